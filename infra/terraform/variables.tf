variable "env" {
  description = "Environment name: dev, staging or prod (the AUTOCORP_ENV the pipeline runs with)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.env))
    error_message = "env must be lowercase letters, digits and '-', e.g. dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region of the lake bucket, the Glue database and the secret."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Lake bucket name; null: autocorp-<env>-lake-<account id> (bucket names are global)."
  type        = string
  default     = null
}

variable "lake_prefix" {
  description = "Prefix of the lake inside the bucket: lake.root = s3://<bucket>/<lake_prefix>. Zones live below it."
  type        = string
  default     = "lake"
  validation {
    condition     = !startswith(var.lake_prefix, "/") && !endswith(var.lake_prefix, "/")
    error_message = "lake_prefix takes no leading or trailing '/'."
  }
}

variable "glue_database" {
  description = "Glue database for the curated tables; null: autocorp_<env> (the pipeline's default)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a non-empty lake bucket (dev only)."
  type        = bool
  default     = false
}

variable "raw_transition_days" {
  description = "Days after which raw-zone data files (raw/database/...) move to raw_storage_class."
  type        = number
  default     = 90
}

variable "raw_storage_class" {
  description = "Storage class raw-zone data files move to (GLACIER, GLACIER_IR, DEEP_ARCHIVE, ...)."
  type        = string
  default     = "GLACIER"
}

variable "logs_expiration_days" {
  description = "Days after which objects in the logs zone (run reports, Athena results) are deleted."
  type        = number
  default     = 30
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept (Delta vacuum deletes files; versioning keeps them)."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for the lake bucket and the secret; null: S3-managed keys (SSE-S3) and the AWS-managed secret key."
  type        = string
  default     = null
}

variable "source_dsn" {
  description = "Source PostgreSQL DSN to store in Secrets Manager. Leave null and put the value with the AWS CLI (docs/aws.md); if given (TF_VAR_source_dsn, never a tfvars file in git) it is also kept in the Terraform state."
  type        = string
  default     = null
  sensitive   = true
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 = delete at once; dev only)."
  type        = number
  default     = 30
}

variable "trusted_services" {
  description = "AWS services that may assume the pipeline role (where `autocorp run` executes)."
  type        = list(string)
  default     = ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]
}

variable "trusted_role_arns" {
  description = "IAM roles or users (ARNs) that may assume the pipeline role, e.g. a CI deployer."
  type        = list(string)
  default     = []
}

variable "create_athena_workgroup" {
  description = "Create an Athena workgroup whose query results land in the logs zone."
  type        = bool
  default     = true
}

variable "athena_bytes_scanned_cutoff" {
  description = "Athena: cancel a query after it scans this many bytes (null: no limit)."
  type        = number
  default     = null
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "aws_endpoint" {
  description = "TESTS ONLY: one endpoint URL for every AWS service (a moto server); also skips credential checks and uses path-style S3. Leave null for AWS."
  type        = string
  default     = null
}
