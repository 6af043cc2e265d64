locals {
  # The settings of `autocorp` this deployment maps onto (src/autocorp/settings.py, AUTOCORP_<SECTION>__<FIELD>).
  settings_env = {
    AUTOCORP_ENV               = var.env
    AUTOCORP_LAKE__ROOT        = local.lake_root
    AUTOCORP_LAKE__S3_REGION   = var.region
    AUTOCORP_CATALOG__DATABASE = module.glue.database_name
    AUTOCORP_CATALOG__REGION   = var.region
  }
}

output "lake_root" {
  description = "settings lake.root (AUTOCORP_LAKE__ROOT)."
  value       = local.lake_root
}

output "region" {
  description = "settings lake.s3_region and catalog.region."
  value       = var.region
}

output "glue_database" {
  description = "settings catalog.database (AUTOCORP_CATALOG__DATABASE)."
  value       = module.glue.database_name
}

output "lake_bucket" {
  description = "The lake bucket."
  value       = module.s3.bucket_name
}

output "athena_workgroup" {
  description = "Athena workgroup for queries over the curated tables (null when not created)."
  value       = module.glue.workgroup_name
}

output "pipeline_role_arn" {
  description = "Role `autocorp run` / `autocorp catalog sync` execute with."
  value       = module.iam.role_arn
}

output "pipeline_instance_profile" {
  description = "Instance profile of the pipeline role (for an EC2 host)."
  value       = module.iam.instance_profile_name
}

output "source_dsn_secret_arn" {
  description = "Secrets Manager secret holding the source DSN (AUTOCORP_SOURCE__DSN)."
  value       = module.secrets.secret_arn
}

output "source_dsn_secret_name" {
  description = "Name of the source DSN secret."
  value       = module.secrets.secret_name
}

output "autocorp_env" {
  description = "The AUTOCORP_* settings of this deployment, as a map (terraform output -json autocorp_env)."
  value       = local.settings_env
}

output "shell_exports" {
  description = "eval \"$(terraform output -raw shell_exports)\" exports the AUTOCORP_* settings; the DSN is read from the secret at that moment, never stored here."
  value = join("\n", concat(
    [for k, v in local.settings_env : "export ${k}='${v}'"],
    ["export AUTOCORP_SOURCE__DSN=\"$(aws secretsmanager get-secret-value --region ${var.region} --secret-id ${module.secrets.secret_name} --query SecretString --output text)\""],
  ))
}
