# One-time, per AWS account: the S3 bucket and DynamoDB table that hold and lock the Terraform
# state of every environment (../backend.tf, ../environments/<env>.s3.tfbackend). Local state:
#
#   cd infra/terraform/bootstrap && terraform init && terraform apply -var region=us-east-1
#
# Keep its terraform.tfstate somewhere safe (it only describes these two resources).

terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "region" {
  description = "Region of the state bucket and lock table."
  type        = string
  default     = "us-east-1"
}

variable "state_bucket" {
  description = "State bucket name; null: autocorp-tfstate-<account id>."
  type        = string
  default     = null
}

variable "lock_table" {
  description = "DynamoDB table for state locking."
  type        = string
  default     = "autocorp-tfstate-lock"
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "autocorp-lake", ManagedBy = "terraform", Purpose = "terraform-state" }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "state" {
  bucket = coalesce(var.state_bucket, "autocorp-tfstate-${data.aws_caller_identity.current.account_id}")
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_dynamodb_table" "lock" {
  name         = var.lock_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"
  attribute {
    name = "LockID"
    type = "S"
  }
  point_in_time_recovery {
    enabled = true
  }
}

output "state_bucket" {
  description = "Put this in environments/<env>.s3.tfbackend as bucket."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "Put this in environments/<env>.s3.tfbackend as dynamodb_table."
  value       = aws_dynamodb_table.lock.name
}
