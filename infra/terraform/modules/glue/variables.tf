variable "database_name" {
  description = "Glue database of the curated tables (settings catalog.database)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "Glue/Athena database names are lowercase letters, digits and '_'."
  }
}

variable "curated_location" {
  description = "s3:// URI of the curated zone (the database's location)."
  type        = string
}

variable "create_athena_workgroup" {
  description = "Create an Athena workgroup for the lake."
  type        = bool
  default     = true
}

variable "workgroup_name" {
  description = "Name of the Athena workgroup."
  type        = string
}

variable "results_location" {
  description = "s3:// URI (ending in '/') for Athena query results, inside the logs zone."
  type        = string
}

variable "bytes_scanned_cutoff" {
  description = "Cancel a query after it scans this many bytes (null: no limit)."
  type        = number
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key for Athena results; null: SSE-S3."
  type        = string
  default     = null
}
