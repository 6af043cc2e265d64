# AutoCorp Lake on AWS: the lake bucket (raw / curated / logs zones), the Glue database the
# pipeline registers the curated Delta tables in (`autocorp catalog sync`), an Athena workgroup,
# the source DSN secret, and the least-privilege role `autocorp run` executes with.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  bucket_name   = coalesce(var.bucket_name, "autocorp-${var.env}-lake-${local.account_id}")
  glue_database = coalesce(var.glue_database, "autocorp_${replace(var.env, "-", "_")}")
  secret_name   = "autocorp/${var.env}/source-dsn"
  lake_root     = var.lake_prefix == "" ? "s3://${local.bucket_name}" : "s3://${local.bucket_name}/${var.lake_prefix}"
  tags = merge({
    Project     = "autocorp-lake"
    Environment = var.env
    ManagedBy   = "terraform"
  }, var.tags)
}

module "s3" {
  source = "./modules/s3"

  bucket_name             = local.bucket_name
  lake_prefix             = var.lake_prefix
  force_destroy           = var.force_destroy
  raw_transition_days     = var.raw_transition_days
  raw_storage_class       = var.raw_storage_class
  logs_expiration_days    = var.logs_expiration_days
  noncurrent_version_days = var.noncurrent_version_days
  kms_key_arn             = var.kms_key_arn
  # a local test endpoint (moto) speaks plain HTTP, which the TLS-only policy would refuse
  deny_insecure_transport = var.aws_endpoint == null
}

module "secrets" {
  source = "./modules/secrets"

  name                    = local.secret_name
  source_dsn              = var.source_dsn
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_arn             = var.kms_key_arn
}

module "glue" {
  source = "./modules/glue"

  database_name           = local.glue_database
  curated_location        = "${local.lake_root}/curated"
  create_athena_workgroup = var.create_athena_workgroup
  workgroup_name          = "autocorp-${var.env}"
  results_location        = "${local.lake_root}/logs/athena/"
  bytes_scanned_cutoff    = var.athena_bytes_scanned_cutoff
  kms_key_arn             = var.kms_key_arn
}

module "iam" {
  source = "./modules/iam"

  name       = "autocorp-${var.env}-pipeline"
  partition  = data.aws_partition.current.partition
  region     = var.region
  account_id = local.account_id
  # ARNs built from names, not taken from the resources, so that `terraform plan` shows the whole policy
  bucket_arn        = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket_name}"
  lake_prefix       = var.lake_prefix
  glue_database     = local.glue_database
  secret_name       = local.secret_name
  kms_key_arn       = var.kms_key_arn
  trusted_services  = var.trusted_services
  trusted_role_arns = var.trusted_role_arns
}
