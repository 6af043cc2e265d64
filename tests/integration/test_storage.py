"""One behaviour suite for the lake storage seam, run against a local folder and a real S3 API (moto)."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

from autocorp.errors import LakeError
from autocorp.lake import layout
from autocorp.lake.storage import S3Options, Storage
from autocorp.source.embedded import free_port


def test_write_and_read_bytes(lake_storage: Storage) -> None:
    lake_storage.write_bytes("raw/_checkpoints/s.json", b'{"lsn": 1}')
    assert lake_storage.read_bytes("raw/_checkpoints/s.json") == b'{"lsn": 1}'
    lake_storage.write_bytes("raw/_checkpoints/s.json", b'{"lsn": 2}')
    assert lake_storage.read_bytes("raw/_checkpoints/s.json") == b'{"lsn": 2}'
    assert lake_storage.read_bytes("raw/_checkpoints/missing.json") is None
    assert lake_storage.exists("raw/_checkpoints/s.json")
    assert not lake_storage.exists("raw/_checkpoints/missing.json")


def test_parquet_roundtrip_and_listing(lake_storage: Storage) -> None:
    t = pa.table({"id": [1, 2, 3], "name": ["a", "b", None]})
    lake_storage.write_parquet(layout.load_file("public", "x", 1), t)
    lake_storage.write_parquet(layout.load_file("public", "x", 2), t)
    files = lake_storage.list_files(layout.raw_table_dir("public", "x"), ".parquet")
    assert files == [layout.load_file("public", "x", 1), layout.load_file("public", "x", 2)]
    with lake_storage.fs.open_input_file(lake_storage.path(files[0])) as fh:
        assert pq.read_table(fh).equals(t)
    assert lake_storage.list_files("raw/database/public/nothing") == []


def test_failed_write_leaves_nothing_visible(lake_storage: Storage) -> None:
    with pytest.raises(RuntimeError):
        with lake_storage.atomic_output("raw/a/partial.bin") as out:
            out.write(b"half of it")
            raise RuntimeError("crash mid-write")
    assert not lake_storage.exists("raw/a/partial.bin")
    assert lake_storage.list_files("raw") == []


def test_streamed_parquet_appears_only_when_complete(lake_storage: Storage) -> None:
    schema = pa.schema([("id", pa.int64())])
    rel = "raw/database/public/y/LOAD00000001.parquet"
    with lake_storage.parquet_writer(rel, schema) as w:
        w.write_table(pa.table({"id": [1, 2]}, schema=schema))
        assert not lake_storage.exists(rel)
        w.write_table(pa.table({"id": [3]}, schema=schema))
    with lake_storage.fs.open_input_file(lake_storage.path(rel)) as fh:
        assert pq.read_table(fh).column("id").to_pylist() == [1, 2, 3]


def test_delete(lake_storage: Storage) -> None:
    lake_storage.write_bytes("logs/x.txt", b"x")
    lake_storage.delete("logs/x.txt")
    lake_storage.delete("logs/x.txt")  # deleting twice is fine
    assert not lake_storage.exists("logs/x.txt")


def test_unknown_scheme_is_rejected() -> None:
    with pytest.raises(LakeError, match="gs://b"):
        Storage("gs://b/lake")


def test_s3_uri_and_options(s3_endpoint: str) -> None:
    st = Storage("s3://bucket/prefix/", S3Options(endpoint=s3_endpoint))
    assert st.uri("curated/sales_order") == "s3://bucket/prefix/curated/sales_order"
    opts = st.storage_options()
    assert opts["AWS_ENDPOINT_URL"] == s3_endpoint and opts["AWS_ALLOW_HTTP"] == "true"
    assert opts["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "false"
    assert (opts["connect_timeout"], opts["timeout"], opts["max_retries"]) == ("3000ms", "30000ms", "3")
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in opts, "commits must use conditional put, not an unsafe rename"
    assert Storage("/tmp/lake").storage_options() == {}


def test_delta_table_on_the_lake(lake_storage: Storage) -> None:
    """delta-rs through uri() + storage_options(), including the calls that hold the GIL while waiting
    for S3 (history, is_deltatable, load_cdf): with moto in the test process they hung for 180 s."""
    uri, opts = lake_storage.uri("curated/t"), lake_storage.storage_options()
    assert not DeltaTable.is_deltatable(uri, storage_options=opts)
    write_deltalake(uri, pa.table({"id": [1, 2]}), storage_options=opts,
                    configuration={"delta.enableChangeDataFeed": "true"})
    write_deltalake(uri, pa.table({"id": [3]}), mode="append", storage_options=opts)
    assert DeltaTable.is_deltatable(uri, storage_options=opts)
    dt = DeltaTable(uri, storage_options=opts)
    assert [h["version"] for h in dt.history()] == [1, 0]
    assert sorted(dt.to_pyarrow_table().column("id").to_pylist()) == [1, 2, 3]
    assert sorted(dt.load_cdf(starting_version=1).read_all().column("id").to_pylist()) == [3]


def test_concurrent_delta_commit_is_refused(lake_storage: Storage) -> None:
    """Two writers on the same version: the second commit fails (conditional put) instead of replacing the first."""
    uri, opts = lake_storage.uri("curated/c"), lake_storage.storage_options()
    write_deltalake(uri, pa.table({"id": [0]}), storage_options=opts)
    first, second = DeltaTable(uri, storage_options=opts), DeltaTable(uri, storage_options=opts)
    no_retry = CommitProperties(max_commit_retries=0)
    write_deltalake(first, pa.table({"id": [1]}), mode="append", commit_properties=no_retry)
    with pytest.raises(CommitFailedError):
        write_deltalake(second, pa.table({"id": [2]}), mode="append", commit_properties=no_retry)
    dt = DeltaTable(uri, storage_options=opts)
    assert dt.version() == 1 and sorted(dt.to_pyarrow_table().column("id").to_pylist()) == [0, 1]


def test_delta_on_a_dead_endpoint_fails_in_seconds() -> None:
    """object_store's defaults (10 retries, 180 s) are bounded by storage_options()."""
    st = Storage("s3://dead-bucket/lake", S3Options(endpoint=f"http://127.0.0.1:{free_port()}"))
    t0 = time.monotonic()
    with pytest.raises(OSError, match="127.0.0.1"):
        DeltaTable.is_deltatable(st.uri("curated/t"), storage_options=st.storage_options())
    assert time.monotonic() - t0 < 3


def test_local_io_error_becomes_lake_error(tmp_path: Path) -> None:
    st = Storage(str(tmp_path / "lake"))
    st.write_bytes("raw/f", b"x")
    with pytest.raises(LakeError, match="cannot list"):
        st.list_files("raw/f/")  # a file, not a folder


def test_lsn_text_roundtrip() -> None:
    for text in ("0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"):
        assert layout.lsn_to_str(layout.lsn_to_int(text)) == text
    assert layout.cdc_file_lsn("raw/database/public/t/2026/11/26/20261126T070000000001-00000016B374D848.parquet") \
        == layout.lsn_to_int("16/B374D848")
    assert layout.cdc_file_lsn("raw/database/public/t/LOAD00000001.parquet") is None
