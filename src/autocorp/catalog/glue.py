"""The AWS Glue Data Catalog adapter: the only module that talks to Glue (through boto3).

Every AWS error is converted here into a ``CatalogError`` that names the database or table and says
what to do. Clients get bounded timeouts and retries, so a wrong endpoint fails in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from autocorp.errors import CatalogError

_ADVICE = {
    "AccessDeniedException": "grant the pipeline role the Glue permissions of infra/terraform/modules/iam "
                             "(glue:GetDatabase, GetTable(s), CreateTable, UpdateTable, DeleteTable on this database)",
    "EntityNotFoundException": "create the database with `terraform apply` (infra/terraform) or set "
                               "catalog.database (AUTOCORP_CATALOG__DATABASE) to an existing one",
    "InvalidInputException": "check the table and column names (Glue wants lowercase letters, digits and _)",
    "ResourceNumberLimitExceededException": "raise the Glue Data Catalog quota or remove unused tables "
                                            "(`autocorp catalog sync --prune`)",
    "UnrecognizedClientException": "check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE) and catalog.region",
}
_DEFAULT_ADVICE = ("check AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile), catalog.region "
                   "and catalog.endpoint (AUTOCORP_CATALOG__ENDPOINT), then retry")


class GlueCatalog:
    """One Glue database: read, create, update and delete its tables."""

    def __init__(self, database: str, region: str, endpoint: str | None = None) -> None:
        self.database = database
        self.region = region
        self.endpoint = endpoint
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
        self._glue = boto3.client("glue", region_name=region, endpoint_url=endpoint or None, config=config)

    @contextmanager
    def _aws(self, action: str, table: str | None = None) -> Iterator[None]:
        """Turn boto errors into a CatalogError naming the action, the table and what to do."""
        what = f"table '{self.database}.{table}'" if table else f"database '{self.database}'"
        where = f"endpoint {self.endpoint}" if self.endpoint else f"region {self.region}"
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            msg = exc.response.get("Error", {}).get("Message", str(exc))
            raise CatalogError(f"Glue cannot {action} {what} ({where}): {code}: {msg}; "
                               f"{_ADVICE.get(code, _DEFAULT_ADVICE)}") from exc
        except NoCredentialsError as exc:
            raise CatalogError(f"Glue cannot {action} {what}: no AWS credentials found; set AWS_ACCESS_KEY_ID / "
                               "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a host with the pipeline role") \
                from exc
        except BotoCoreError as exc:
            raise CatalogError(f"Glue cannot {action} {what} ({where}): {exc}; {_DEFAULT_ADVICE}") from exc

    # -- database -------------------------------------------------------------
    def ensure_database(self, location: str) -> bool:
        """Create the database (at ``location``) unless it exists. Returns True when it was created.

        Raises:
            CatalogError: the database cannot be read or created.
        """
        with self._aws("read"):
            try:
                self._glue.get_database(Name=self.database)
                return False
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                    raise
        with self._aws("create"):
            self._glue.create_database(DatabaseInput={
                "Name": self.database, "LocationUri": location,
                "Description": "AutoCorp Lake curated zone (tables registered by `autocorp catalog sync`)"})
        return True

    # -- tables -----------------------------------------------------------------
    def get_table(self, name: str) -> dict[str, Any] | None:
        """The Glue table ``name`` (as GetTable returns it), or None when it does not exist.

        Raises:
            CatalogError: the table cannot be read.
        """
        with self._aws("read", name):
            try:
                table: dict[str, Any] = self._glue.get_table(DatabaseName=self.database, Name=name)["Table"]
                return table
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                    return None
                raise

    def list_tables(self) -> list[dict[str, Any]]:
        """Every table of the database (all pages).

        Raises:
            CatalogError: the tables cannot be listed.
        """
        tables: list[dict[str, Any]] = []
        with self._aws("list the tables of"):
            for page in self._glue.get_paginator("get_tables").paginate(DatabaseName=self.database):
                tables.extend(page.get("TableList", []))
        return tables

    def create_table(self, table_input: dict[str, Any]) -> None:
        """Create a table from a Glue ``TableInput``.

        Raises:
            CatalogError: Glue refused (the table is named).
        """
        with self._aws("create", table_input["Name"]):
            self._glue.create_table(DatabaseName=self.database, TableInput=table_input)

    def update_table(self, table_input: dict[str, Any]) -> None:
        """Replace a table's definition with ``table_input`` (Glue keeps the old one as a table version).

        Raises:
            CatalogError: Glue refused (the table is named).
        """
        with self._aws("update", table_input["Name"]):
            self._glue.update_table(DatabaseName=self.database, TableInput=table_input)

    def delete_table(self, name: str) -> None:
        """Drop the table ``name`` from the catalog (the data in S3 stays).

        Raises:
            CatalogError: Glue refused (the table is named).
        """
        with self._aws("delete", name):
            self._glue.delete_table(DatabaseName=self.database, Name=name)
