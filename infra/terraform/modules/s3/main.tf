# The lake bucket. Zones are prefixes under <lake_prefix>/ (src/autocorp/lake/layout.py):
#   raw/      capture output: raw/database/<schema>/<table>/... data files, raw/_checkpoints, raw/_schemas
#   curated/  Delta Lake tables and models (registered in Glue by `autocorp catalog sync`)
#   logs/     run reports and Athena query results

locals {
  base  = var.lake_prefix == "" ? "" : "${var.lake_prefix}/"
  zones = ["raw", "curated", "logs"] # prefixes, not objects: the pipeline writes below them on first run
}

resource "aws_s3_bucket" "lake" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  count      = var.deny_insecure_transport ? 1 : 0
  bucket     = aws_s3_bucket.lake.id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  # Only the captured data files: raw/_checkpoints and raw/_schemas are read by every capture run
  # and must stay in a storage class that reads instantly.
  rule {
    id     = "raw-data-to-${lower(var.raw_storage_class)}"
    status = "Enabled"
    filter {
      prefix = "${local.base}raw/database/"
    }
    transition {
      days          = var.raw_transition_days
      storage_class = var.raw_storage_class
    }
  }

  rule {
    id     = "logs-expiry"
    status = "Enabled"
    filter {
      prefix = "${local.base}logs/"
    }
    expiration {
      days = var.logs_expiration_days
    }
  }

  # Delta vacuum and compaction delete files; with versioning they linger as noncurrent versions.
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {
      prefix = local.base
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}
