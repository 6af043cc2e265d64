"""One behaviour suite for the lake storage seam, run against a local folder and a real S3 API (moto)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from autocorp.errors import LakeError
from autocorp.lake import layout
from autocorp.lake.storage import Storage


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
    from autocorp.lake.storage import S3Options

    st = Storage("s3://bucket/prefix/", S3Options(endpoint=s3_endpoint))
    assert st.uri("curated/sales_order") == "s3://bucket/prefix/curated/sales_order"
    assert st.storage_options()["AWS_ENDPOINT_URL"] == s3_endpoint


def test_lsn_text_roundtrip() -> None:
    for text in ("0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"):
        assert layout.lsn_to_str(layout.lsn_to_int(text)) == text
    assert layout.cdc_file_lsn("raw/database/public/t/2026/11/26/20261126T070000000001-00000016B374D848.parquet") \
        == layout.lsn_to_int("16/B374D848")
    assert layout.cdc_file_lsn("raw/database/public/t/LOAD00000001.parquet") is None
