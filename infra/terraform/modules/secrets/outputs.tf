output "secret_arn" {
  description = "ARN of the source DSN secret."
  value       = aws_secretsmanager_secret.source_dsn.arn
}

output "secret_name" {
  description = "Name of the source DSN secret."
  value       = aws_secretsmanager_secret.source_dsn.name
}
