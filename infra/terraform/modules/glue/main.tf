# The Glue Data Catalog database the pipeline registers the curated Delta tables in
# (`autocorp catalog sync`: one table per curated/<table>, table_type=DELTA), and an Athena
# workgroup (engine v3 reads Delta Lake natively) whose results land in the logs zone.

resource "aws_glue_catalog_database" "lake" {
  name         = var.database_name
  description  = "AutoCorp Lake curated zone: Delta Lake tables registered by `autocorp catalog sync`"
  location_uri = var.curated_location
}

resource "aws_athena_workgroup" "lake" {
  count         = var.create_athena_workgroup ? 1 : 0
  name          = var.workgroup_name
  description   = "AutoCorp Lake: SQL over the curated Delta tables in ${var.database_name}"
  force_destroy = true

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = var.results_location
      encryption_configuration {
        encryption_option = var.kms_key_arn == null ? "SSE_S3" : "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}
