"""All lake file I/O: a local folder or ``s3://bucket/prefix``, through pyarrow filesystems.

Paths given to ``Storage`` methods are relative to the lake root ("raw/database/public/x/LOAD00000001.parquet").
Files become visible atomically: locally written to a temp name then renamed; on S3 an object
appears only when its (multipart) upload completes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from autocorp.errors import LakeError

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3}


@dataclass(frozen=True)
class S3Options:
    endpoint: str | None = None
    region: str = "us-east-1"


@dataclass
class Storage:
    """The lake root and the filesystem behind it."""

    root: str
    s3: S3Options = field(default_factory=S3Options)

    def __post_init__(self) -> None:
        parsed = urlparse(self.root)
        self.is_s3 = parsed.scheme == "s3"
        if self.is_s3:
            self._base = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
            kw: dict[str, Any] = {"region": self.s3.region}
            if self.s3.endpoint:
                ep = urlparse(self.s3.endpoint)
                kw["endpoint_override"] = ep.netloc or self.s3.endpoint
                kw["scheme"] = ep.scheme or "http"
            self.fs: pafs.FileSystem = pafs.S3FileSystem(**kw)
        elif parsed.scheme in ("", "file"):
            self._base = os.path.abspath(parsed.path if parsed.scheme else self.root)
            os.makedirs(self._base, exist_ok=True)
            self.fs = pafs.LocalFileSystem()
        else:
            raise LakeError(f"lake.root '{self.root}' is neither a local path nor s3://bucket/prefix")

    # -- naming -----------------------------------------------------------
    def path(self, rel: str = "") -> str:
        """Path of ``rel`` inside the filesystem (no scheme)."""
        return f"{self._base}/{rel}".rstrip("/") if rel else self._base

    def uri(self, rel: str = "") -> str:
        """URI for engines that take one (deltalake, DuckDB): ``s3://...`` or an absolute path."""
        return f"s3://{self.path(rel)}" if self.is_s3 else self.path(rel)

    def storage_options(self) -> dict[str, str]:
        """Options for deltalake / object_store (empty for a local lake)."""
        if not self.is_s3:
            return {}
        opts = {"AWS_REGION": self.s3.region}
        if self.s3.endpoint:
            opts["AWS_ENDPOINT_URL"] = self.s3.endpoint
            if self.s3.endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        opts["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
        return opts

    # -- writing ------------------------------------------------------------
    def _ensure_parent(self, rel: str) -> None:
        if not self.is_s3:
            os.makedirs(os.path.dirname(self.path(rel)), exist_ok=True)

    @contextmanager
    def atomic_output(self, rel: str) -> Iterator[Any]:
        """A writable stream whose content appears at ``rel`` only if the block succeeds."""
        self._ensure_parent(rel)
        final = self.path(rel)
        if self.is_s3:
            # stage locally, upload only on success: pyarrow cannot abort an S3 stream, and
            # an upload interrupted by a crash never completes, so no partial object appears
            with tempfile.TemporaryFile() as fh:
                yield fh
                fh.seek(0)
                with self.fs.open_output_stream(final) as up:
                    shutil.copyfileobj(fh, up, 8 << 20)
            return
        tmp = f"{os.path.dirname(final)}/.tmp-{uuid.uuid4().hex}-{os.path.basename(final)}"
        try:
            with open(tmp, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            _fsync_dir(os.path.dirname(final))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Atomically write ``data`` to ``rel``."""
        with self.atomic_output(rel) as out:
            out.write(data)

    def write_parquet(self, rel: str, table: pa.Table, **options: Any) -> None:
        """Atomically write one Parquet file (zstd)."""
        with self.atomic_output(rel) as out:
            pq.write_table(table, out, **{**PARQUET_OPTIONS, **options})

    @contextmanager
    def parquet_writer(self, rel: str, schema: pa.Schema, **options: Any) -> Iterator[pq.ParquetWriter]:
        """Stream row groups into one Parquet file that appears atomically when the block ends."""
        with self.atomic_output(rel) as out, pq.ParquetWriter(out, schema, **{**PARQUET_OPTIONS, **options}) as w:
            yield w

    # -- reading / listing ----------------------------------------------------
    def read_bytes(self, rel: str) -> bytes | None:
        """Content of ``rel``, or None when it does not exist."""
        try:
            with self.fs.open_input_stream(self.path(rel)) as fh:
                return bytes(fh.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                return None
            raise LakeError(f"cannot read {self.uri(rel)}: {exc}") from exc

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def list_files(self, prefix: str, suffix: str = "") -> list[str]:
        """Relative paths of the files under ``prefix`` (recursive, sorted), skipping temp files."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        base = len(self.path()) + 1
        out = []
        for info in self.fs.get_file_info(selector):
            name = info.base_name
            if info.type == pafs.FileType.File and not name.startswith(".tmp-") and name.endswith(suffix):
                out.append(info.path[base:])
        return sorted(out)

    def remove_temp_files(self, prefix: str, older_than_s: float = 60.0) -> int:
        """Delete ``.tmp-*`` files under ``prefix`` older than ``older_than_s`` (left by a killed writer).

        Younger ones may belong to a writer that is still running. Returns how many were deleted.
        """
        if self.is_s3:
            return 0  # S3 writes stage in a local temp file: an interrupted upload leaves no object
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        cutoff = time.time() - older_than_s
        removed = 0
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.base_name.startswith(".tmp-") \
                    and info.mtime is not None and info.mtime.timestamp() < cutoff:
                with suppress(FileNotFoundError):
                    os.unlink(info.path)
                    removed += 1
        return removed

    def delete(self, rel: str) -> None:
        try:
            self.fs.delete_file(self.path(rel))
        except FileNotFoundError:
            pass

    def delete_dir(self, rel: str) -> None:
        try:
            self.fs.delete_dir(self.path(rel))
        except FileNotFoundError:
            pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
