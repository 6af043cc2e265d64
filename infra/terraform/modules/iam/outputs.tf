output "role_arn" {
  description = "ARN of the pipeline role."
  value       = aws_iam_role.pipeline.arn
}

output "role_name" {
  description = "Name of the pipeline role."
  value       = aws_iam_role.pipeline.name
}

output "policy_arn" {
  description = "ARN of the pipeline policy."
  value       = aws_iam_policy.pipeline.arn
}

output "instance_profile_name" {
  description = "Instance profile of the pipeline role."
  value       = aws_iam_instance_profile.pipeline.name
}
