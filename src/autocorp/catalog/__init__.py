"""What tables the curated zone holds, and their registration in the AWS Glue Data Catalog (the crawler part)."""
