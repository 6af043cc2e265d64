variable "name" {
  description = "Name of the pipeline role (and its policy and instance profile)."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "region" {
  description = "Region of the Glue catalog."
  type        = string
}

variable "account_id" {
  description = "Account that owns the Glue catalog."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the lake bucket."
  type        = string
}

variable "lake_prefix" {
  description = "Prefix of the lake in the bucket; the role reaches nothing outside it."
  type        = string
}

variable "glue_database" {
  description = "Glue database the pipeline registers tables in."
  type        = string
}

variable "secret_name" {
  description = "Name of the source DSN secret (read only)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer KMS key of the bucket and secret, if any."
  type        = string
  default     = null
}

variable "trusted_services" {
  description = "Services that may assume the role."
  type        = list(string)
  default     = ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]
}

variable "trusted_role_arns" {
  description = "IAM principals (ARNs) that may assume the role."
  type        = list(string)
  default     = []
}
