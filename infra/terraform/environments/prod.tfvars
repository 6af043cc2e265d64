# terraform plan -var-file=environments/prod.tfvars
env                         = "prod"
region                      = "us-east-1"
lake_prefix                 = "lake"
force_destroy               = false
raw_transition_days         = 90
raw_storage_class           = "GLACIER"
logs_expiration_days        = 365
noncurrent_version_days     = 30
secret_recovery_window_days = 30
create_athena_workgroup     = true
athena_bytes_scanned_cutoff = null # no per-query limit
tags = {
  CostCenter = "data-platform"
}
