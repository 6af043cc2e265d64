terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0" # pinned: the version CI and the developers' machines hold in their provider mirror
    }
  }
}
