provider "aws" {
  region = var.region

  # Test-only switches: all of them stay off for a real deployment (aws_endpoint = null). The account id
  # is still requested (STS answers on the test endpoint too): ARNs built from it must be complete.
  skip_credentials_validation = var.aws_endpoint != null
  skip_metadata_api_check     = var.aws_endpoint != null
  s3_use_path_style           = var.aws_endpoint != null

  dynamic "endpoints" {
    for_each = var.aws_endpoint == null ? [] : [var.aws_endpoint]
    content {
      athena         = endpoints.value
      glue           = endpoints.value
      iam            = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = local.tags
  }
}
