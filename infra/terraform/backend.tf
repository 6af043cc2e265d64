# Remote state: S3 (versioned, encrypted) with DynamoDB locking, one state file per environment.
# Partial configuration: the bucket, key and lock table come from environments/<env>.s3.tfbackend,
#
#   terraform init -backend-config=environments/dev.s3.tfbackend
#
# The state bucket and lock table are created once per account by ../bootstrap (see docs/aws.md).
# `terraform init -backend=false` skips all of this (validate, CI, local experiments).
terraform {
  backend "s3" {}
}
