output "bucket_name" {
  description = "Name of the lake bucket."
  value       = aws_s3_bucket.lake.id
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = aws_s3_bucket.lake.arn
}

output "zone_prefixes" {
  description = "Zone name -> key prefix in the bucket."
  value       = { for z in local.zones : z => "${local.base}${z}/" }
}
