output "database_name" {
  description = "Name of the Glue database."
  value       = aws_glue_catalog_database.lake.name
}

output "database_arn" {
  description = "ARN of the Glue database."
  value       = aws_glue_catalog_database.lake.arn
}

output "workgroup_name" {
  description = "Athena workgroup name (null when not created)."
  value       = one(aws_athena_workgroup.lake[*].name)
}
