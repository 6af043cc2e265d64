# The source PostgreSQL DSN (postgresql://user:password@host:5432/autocorp). The value never lives in
# code: put it with the AWS CLI after `terraform apply`, or pass TF_VAR_source_dsn (then it is also in
# the encrypted state). The pipeline reads it into AUTOCORP_SOURCE__DSN at start (docs/aws.md).

resource "aws_secretsmanager_secret" "source_dsn" {
  name                    = var.name
  description             = "AutoCorp Lake: DSN of the source PostgreSQL database (AUTOCORP_SOURCE__DSN)"
  recovery_window_in_days = var.recovery_window_in_days
  kms_key_id              = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "source_dsn" {
  count         = nonsensitive(var.source_dsn != null) ? 1 : 0
  secret_id     = aws_secretsmanager_secret.source_dsn.id
  secret_string = var.source_dsn
}
