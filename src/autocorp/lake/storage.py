"""All lake file I/O: a local folder or ``s3://bucket/prefix``, through pyarrow filesystems.

Paths given to ``Storage`` methods are relative to the lake root ("raw/database/public/x/LOAD00000001.parquet").
Files become visible atomically: locally written to a temp name then renamed; on S3 an object
appears only when its (multipart) upload completes.

On S3 every client (pyarrow here, delta-rs through :meth:`Storage.storage_options`) gets bounded
connect/request timeouts and retries, and the first I/O of a ``Storage`` checks that the endpoint
answers and the bucket exists, so a wrong or dead endpoint fails within seconds with a ``LakeError``
naming it, instead of retrying for minutes.
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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from autocorp.errors import LakeError

if TYPE_CHECKING:
    from autocorp.settings import Settings

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3}


@dataclass(frozen=True)
class S3Options:
    """How to reach S3: endpoint (None = AWS), region, and the client limits that bound a failure.

    Credentials come from the environment (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile
    or an instance role), never from settings.
    """

    endpoint: str | None = None
    region: str = "us-east-1"
    connect_timeout_s: float = 3.0
    request_timeout_s: float = 30.0
    max_retries: int = 3
    retry_timeout_s: float = 20.0
    check_timeout_s: float = 5.0


def _duration(seconds: float) -> str:
    """A duration the way object_store parses it (``"2500ms"``)."""
    return f"{max(1, round(seconds * 1000))}ms"


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
            self.bucket = parsed.netloc
            self.fs: pafs.FileSystem = self._s3_filesystem(self.s3.request_timeout_s, self.s3.max_retries + 1)
        elif parsed.scheme in ("", "file"):
            self._base = os.path.abspath(parsed.path if parsed.scheme else self.root)
            os.makedirs(self._base, exist_ok=True)
            self.fs = pafs.LocalFileSystem()
        else:
            raise LakeError(f"lake.root '{self.root}' is neither a local path nor s3://bucket/prefix")
        self._checked = not self.is_s3

    def _s3_filesystem(self, request_timeout_s: float, attempts: int) -> pafs.S3FileSystem:
        kw: dict[str, Any] = {
            "region": self.s3.region, "connect_timeout": self.s3.connect_timeout_s,
            "request_timeout": request_timeout_s,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=attempts),
        }
        if self.s3.endpoint:
            ep = urlparse(self.s3.endpoint)
            kw["endpoint_override"] = ep.netloc or self.s3.endpoint
            kw["scheme"] = ep.scheme or "http"
        return pafs.S3FileSystem(**kw)

    # -- reachability -------------------------------------------------------
    def check(self) -> None:
        """Make sure the lake root is usable: on S3, that the endpoint answers and the bucket exists.

        Runs once per ``Storage`` (every I/O method calls it first) with a short timeout and no
        retries, so a wrong endpoint fails in seconds. Nothing to check for a local folder.

        Raises:
            LakeError: the endpoint is unreachable, refuses the credentials, or the bucket is missing.
        """
        if self._checked:
            return
        try:
            info = self._s3_filesystem(self.s3.check_timeout_s, 1).get_file_info(self.bucket)
        except OSError as exc:
            raise LakeError(f"cannot reach S3 bucket '{self.bucket}' at {self._where()}: {exc}; {self._advice()}") \
                from exc
        if info.type == pafs.FileType.NotFound:
            raise LakeError(f"S3 bucket '{self.bucket}' does not exist at {self._where()}: create it "
                            f"(`aws s3 mb s3://{self.bucket}`) or point lake.root at an existing bucket")
        self._checked = True

    def _where(self) -> str:
        return f"endpoint {self.s3.endpoint}" if self.s3.endpoint else f"AWS S3 (region {self.s3.region})"

    def _advice(self) -> str:
        return ("check that lake.s3_endpoint (AUTOCORP_LAKE__S3_ENDPOINT) names a running S3 service, the bucket "
                "exists and AWS credentials are set (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile)")

    @contextmanager
    def _io(self, action: str, rel: str) -> Iterator[None]:
        """Check the root once, then turn filesystem errors into a LakeError naming the file and what to do."""
        self.check()
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as exc:
            if not self.is_s3:
                raise LakeError(f"cannot {action} {self.uri(rel)}: {exc}") from exc
            raise LakeError(f"cannot {action} {self.uri(rel)} at {self._where()}: {exc}; {self._advice()}") from exc

    # -- naming -----------------------------------------------------------
    def path(self, rel: str = "") -> str:
        """Path of ``rel`` inside the filesystem (no scheme)."""
        return f"{self._base}/{rel}".rstrip("/") if rel else self._base

    def uri(self, rel: str = "") -> str:
        """URI for engines that take one (deltalake, DuckDB): ``s3://...`` or an absolute path."""
        return f"s3://{self.path(rel)}" if self.is_s3 else self.path(rel)

    def storage_options(self) -> dict[str, str]:
        """Options for deltalake / object_store (empty for a local lake).

        Commits rely on delta-rs's default S3 log store: conditional put (``If-None-Match``), which
        AWS S3 and moto support, so a concurrent commit fails instead of silently replacing ours
        (no ``AWS_S3_ALLOW_UNSAFE_RENAME``). Timeouts and retries are bounded: object_store's
        defaults (30 s per request, 10 retries, 180 s) turn a dead endpoint into a 3-minute hang.
        """
        if not self.is_s3:
            return {}
        s3 = self.s3
        opts = {"AWS_REGION": s3.region, "connect_timeout": _duration(s3.connect_timeout_s),
                "timeout": _duration(s3.request_timeout_s), "max_retries": str(s3.max_retries),
                "retry_timeout": _duration(s3.retry_timeout_s)}
        if s3.endpoint:
            opts["AWS_ENDPOINT_URL"] = s3.endpoint
            opts["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"  # S3-compatible servers (moto, MinIO) want path style
            if s3.endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
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
            self.check()
            with tempfile.TemporaryFile() as fh:
                yield fh
                fh.seek(0)
                with self._io("write", rel), self.fs.open_output_stream(final) as up:
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
            with self._io("read", rel), self.fs.open_input_stream(self.path(rel)) as fh:
                return bytes(fh.read())
        except FileNotFoundError:
            return None
        except LakeError as exc:
            cause = str(exc.__cause__).lower()
            if "not found" in cause or "does not exist" in cause:
                return None
            raise

    def exists(self, rel: str) -> bool:
        with self._io("stat", rel):
            return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def list_files(self, prefix: str, suffix: str = "") -> list[str]:
        """Relative paths of the files under ``prefix`` (recursive, sorted), skipping temp files."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        base = len(self.path()) + 1
        out = []
        with self._io("list", prefix):
            infos = self.fs.get_file_info(selector)
        for info in infos:
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
        with suppress(FileNotFoundError), self._io("delete", rel):
            self.fs.delete_file(self.path(rel))

    def delete_dir(self, rel: str) -> None:
        with suppress(FileNotFoundError), self._io("delete", rel):
            self.fs.delete_dir(self.path(rel))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lake_storage(settings: Settings) -> Storage:
    """The lake of one environment's settings: ``lake.root`` with its S3 endpoint and region."""
    return Storage(settings.lake_root, S3Options(settings.lake.s3_endpoint, settings.lake.s3_region))
