"""AutoCorp Lake: PostgreSQL to a Delta Lake lakehouse, on one machine or on AWS."""

__version__ = "0.1.0"
