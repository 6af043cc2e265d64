variable "bucket_name" {
  description = "Name of the lake bucket."
  type        = string
}

variable "lake_prefix" {
  description = "Prefix of the lake inside the bucket (no leading/trailing '/'; empty: bucket root)."
  type        = string
}

variable "force_destroy" {
  description = "Allow deleting a non-empty bucket."
  type        = bool
  default     = false
}

variable "raw_transition_days" {
  description = "Days after which raw-zone data files move to raw_storage_class."
  type        = number
  default     = 90
}

variable "raw_storage_class" {
  description = "Storage class for old raw-zone data files."
  type        = string
  default     = "GLACIER"
}

variable "logs_expiration_days" {
  description = "Days after which logs-zone objects are deleted."
  type        = number
  default     = 30
}

variable "noncurrent_version_days" {
  description = "Days a noncurrent object version is kept."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS; null: SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "deny_insecure_transport" {
  description = "Attach a bucket policy that refuses plain-HTTP requests (off only for a local HTTP test endpoint)."
  type        = bool
  default     = true
}
