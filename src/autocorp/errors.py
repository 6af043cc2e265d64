"""The whole exception tree of AutoCorp Lake.

Every error a user can hit says what went wrong and what to do. The CLI catches
``AutocorpError`` in one place, prints one red line and exits 1.

::

    AutocorpError
    ├── ConfigError                 bad setting, unknown --env, unreadable config file
    ├── SourceError                 the PostgreSQL source system
    │   ├── DatabaseUnavailable     cannot connect (DSN shown with password masked)   [Retryable]
    │   ├── EmbeddedServerError     the embedded cluster would not start / stop
    │   ├── SchemaError             schema files or objects are wrong
    │   ├── SeedDataMissing         no parts / services / customers loaded: run `autocorp source load`
    │   └── WorkloadError           a simulated order operation failed
    ├── DataFileError               a CSV / seed file is unreadable or malformed (file + line named)
    ├── CaptureError                logical replication (the DMS part)
    │   ├── SlotLostError           slot missing or invalidated: run `autocorp capture --resync`
    │   ├── MissingPrimaryKeyError  published table without a key or REPLICA IDENTITY FULL
    │   └── DecodeError             a pgoutput message we cannot decode
    ├── LakeError                   storage layout, atomic writes, checkpoints
    ├── CurateError                 raw zone -> Delta merges
    │   └── CurateConflict          another writer committed to a curated table meanwhile  [Retryable]
    ├── CatalogError                registering curated tables in the AWS Glue Data Catalog
    └── QueryError                  SQL over the lake
        └── QueryRejected           a statement the sandbox refuses

``Retryable`` is a marker mixed into errors the runner may retry after a pause.
"""

from __future__ import annotations


class AutocorpError(Exception):
    """Base of every error AutoCorp Lake raises on purpose."""


class Retryable:
    """Marker: the operation may succeed if retried later."""


class ConfigError(AutocorpError):
    """A setting, environment name or config file is invalid."""


class SourceError(AutocorpError):
    """Something is wrong with the PostgreSQL source system."""


class DatabaseUnavailable(SourceError, Retryable):
    """The source database cannot be reached."""


class EmbeddedServerError(SourceError):
    """The embedded PostgreSQL cluster could not be managed."""


class SchemaError(SourceError):
    """The source schema could not be applied or is not as expected."""


class SeedDataMissing(SourceError):
    """The tables the order simulator builds orders from are empty."""


class WorkloadError(SourceError):
    """An operation of the order workload simulator failed."""


class DataFileError(AutocorpError):
    """A data file (CSV) is unreadable or malformed."""


class CaptureError(AutocorpError):
    """Change data capture failed."""


class SlotLostError(CaptureError):
    """The replication slot is missing or was invalidated."""


class MissingPrimaryKeyError(CaptureError):
    """A published table has neither a primary key nor REPLICA IDENTITY FULL."""


class DecodeError(CaptureError):
    """A pgoutput message could not be decoded."""


class LakeError(AutocorpError):
    """The lake storage layer failed."""


class CurateError(AutocorpError):
    """Merging raw changes into curated tables failed."""


class CurateConflict(CurateError, Retryable):
    """Another writer committed to a curated table between our read and our commit."""


class CatalogError(AutocorpError):
    """Registering the curated tables in the AWS Glue Data Catalog failed."""


class QueryError(AutocorpError):
    """A query over the lake failed."""


class QueryRejected(QueryError):
    """The query sandbox refused a statement."""
