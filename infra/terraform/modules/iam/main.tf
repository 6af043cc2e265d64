# The role `autocorp run` and `autocorp catalog sync` execute with. Least privilege:
#   S3       list the lake prefix; read, write and delete objects under it (no other prefix, no bucket admin)
#   Glue     read the catalog entry and the one database; create, update, delete tables in it (not the database)
#   Secrets  read the one source DSN secret
#   KMS      only when a customer key encrypts the bucket/secret

locals {
  lake_keys    = var.lake_prefix == "" ? "*" : "${var.lake_prefix}/*"
  list_prefix  = var.lake_prefix == "" ? ["*"] : [var.lake_prefix, "${var.lake_prefix}/*"]
  glue_catalog = "arn:${var.partition}:glue:${var.region}:${var.account_id}:catalog"
  glue_db      = "arn:${var.partition}:glue:${var.region}:${var.account_id}:database/${var.glue_database}"
  glue_tables  = "arn:${var.partition}:glue:${var.region}:${var.account_id}:table/${var.glue_database}/*"
  # Secrets Manager appends 6 random characters to a secret's name in its ARN
  secret_arn = "arn:${var.partition}:secretsmanager:${var.region}:${var.account_id}:secret:${var.secret_name}-??????"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = var.trusted_services
    }
  }

  dynamic "statement" {
    for_each = length(var.trusted_role_arns) > 0 ? [var.trusted_role_arns] : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = statement.value
      }
    }
  }
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "ListLakePrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.list_prefix
    }
  }

  # HeadBucket (the lake's reachability check at start) is authorised by s3:ListBucket and carries no
  # prefix; a prefix-less listing only shows key names of this dedicated bucket, never their content.
  statement {
    sid       = "HeadLakeBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "Null"
      variable = "s3:prefix"
      values   = ["true"]
    }
  }

  statement {
    sid       = "BucketLocation"
    actions   = ["s3:GetBucketLocation"]
    resources = [var.bucket_arn]
  }

  statement {
    sid       = "ReadWriteLakeObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.bucket_arn}/${local.lake_keys}"]
  }

  statement {
    sid = "GlueCuratedTables"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables",
      "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
    ]
    resources = [local.glue_catalog, local.glue_db, local.glue_tables]
  }

  statement {
    sid       = "ReadSourceDsn"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [local.secret_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseLakeKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = var.name
  description        = "AutoCorp Lake pipeline: capture, curate, catalog sync"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_policy" "pipeline" {
  name        = var.name
  description = "AutoCorp Lake pipeline: the lake prefix, its Glue database, the source DSN secret"
  policy      = data.aws_iam_policy_document.pipeline.json
}

resource "aws_iam_role_policy_attachment" "pipeline" {
  role       = aws_iam_role.pipeline.name
  policy_arn = aws_iam_policy.pipeline.arn
}

resource "aws_iam_instance_profile" "pipeline" {
  name = var.name
  role = aws_iam_role.pipeline.name
}
