variable "name" {
  description = "Secret name, e.g. autocorp/prod/source-dsn."
  type        = string
}

variable "source_dsn" {
  description = "The DSN to store; null: create the secret empty and put the value out of band (`aws secretsmanager put-secret-value`)."
  type        = string
  default     = null
  sensitive   = true
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 = delete at once)."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for the secret; null: the AWS-managed aws/secretsmanager key."
  type        = string
  default     = null
}
