"""Loading the seed files into a real PostgreSQL: the design's counts, idempotency, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autocorp.errors import DataFileError, SchemaError
from autocorp.source import schema
from autocorp.source.connect import connection
from autocorp.source.generate import generate
from autocorp.source.load import LoadReport, TableLoad, load_seed_data

DESIGN = {"auto_parts": 400, "service": 110, "service_parts": 1074, "customers": 1149}
EMPTY = dict.fromkeys(DESIGN, 0)


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed")
    generate(out, seed=42, customers=5000, orders=10)
    return out


@pytest.fixture()
def data(seed_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seed files that a test may corrupt."""
    return Path(shutil.copytree(seed_dir, tmp_path / "data"))


def _counts(dsn: str) -> dict[str, int]:
    return {t: n for t, n in schema.table_counts(dsn).items() if t in DESIGN}


def _by_table(report: LoadReport) -> dict[str, TableLoad]:
    return {t.table: t for t in report.tables}


def _edit_line(path: Path, line: int, new: str) -> str:
    lines = path.read_text().splitlines(keepends=True)
    old = lines[line - 1]
    lines[line - 1] = new + "\n"
    path.write_text("".join(lines))
    return old.rstrip("\n")


def test_load_reproduces_the_design_counts(autocorp_db: str, seed_dir: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    report = load_seed_data(autocorp_db, seed_dir, progress=lambda *a: calls.append(a))
    assert _counts(autocorp_db) == DESIGN
    customers = _by_table(report)["customers"]
    assert (customers.records, customers.selected, customers.duplicates, customers.inserted) == (5000, 1150, 1, 1149)
    assert "duplicate email" in customers.problems[0].reason
    assert {t.table: t.inserted for t in report.tables} == DESIGN
    assert ("customers", 1149, 1149) in calls and ("service_parts", 1074, 1074) in calls
    with connection(autocorp_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(DISTINCT state) FROM customers")
        assert cur.fetchone()[0] == 59
        cur.execute("SELECT serviceid, count(*) FROM service_parts GROUP BY 1 ORDER BY 2 DESC LIMIT 2")
        top = cur.fetchall()
        assert top[0] == ("92038482", 27) and top[1][1] < 27
        cur.execute("SELECT labor_minutes, labor_cost FROM service WHERE serviceid = '48392017'")
        assert cur.fetchone() == (30, 45)


def _fingerprint(dsn: str) -> dict[str, str]:
    out = {}
    with connection(dsn) as conn, conn.cursor() as cur:
        for table in DESIGN:
            cur.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t")
            out[table] = cur.fetchone()[0]
    return out


def test_loading_twice_changes_nothing(autocorp_db: str, seed_dir: Path) -> None:
    load_seed_data(autocorp_db, seed_dir)
    before = _fingerprint(autocorp_db)
    again = _by_table(load_seed_data(autocorp_db, seed_dir))
    assert _fingerprint(autocorp_db) == before and _counts(autocorp_db) == DESIGN
    for table, n in DESIGN.items():
        assert (again[table].inserted, again[table].already_present) == (0, n), table
    assert again["customers"].duplicates == 1  # the sample's own duplicate, not the rows already loaded


def test_full_size_files_give_1149_customers(autocorp_db: str, tmp_path: Path) -> None:
    """The real 1.2M-row customers.csv and the default sample: the design's 1,149."""
    generate(tmp_path, seed=42, orders=10)
    report = load_seed_data(autocorp_db, tmp_path)
    assert _counts(autocorp_db) == DESIGN
    assert _by_table(report)["customers"].records == 1_200_000


def test_fail_rejects_and_loads_nothing(autocorp_db: str, data: Path) -> None:
    _edit_line(data / "service-parts.csv", 500, "92038482,ENG-00000,many")
    with pytest.raises(DataFileError) as info:
        load_seed_data(autocorp_db, data)
    assert "service-parts.csv:500: quantity 'many'" in str(info.value) and "--on-error skip" in str(info.value)
    assert _counts(autocorp_db) == EMPTY


def test_fail_on_unknown_reference_rolls_back_everything(autocorp_db: str, data: Path) -> None:
    _edit_line(data / "service-parts.csv", 2, "92038482,NOPE-1,1")
    with pytest.raises(DataFileError, match=r"service-parts\.csv:2: sku NOPE-1 is in neither"):
        load_seed_data(autocorp_db, data)
    assert _counts(autocorp_db) == EMPTY  # parts and services were inserted first, then rolled back


def test_skip_loads_good_rows_and_reports_bad_lines(autocorp_db: str, data: Path) -> None:
    bad_part = _edit_line(data / "auto-parts.csv", 10, "BRK-1,Pad,Brakes,Acme,twelve,5.00,3")
    orphaned = sum(1 for line in (data / "service-parts.csv").read_text().splitlines()
                   if line.split(",")[1] == bad_part.split(",")[0])
    _edit_line(data / "auto-service.csv", 5, "1234,Bad id,Brakes,30,45.00")
    report = _by_table(load_seed_data(autocorp_db, data, on_error="skip"))
    parts, services, mappings = report["auto_parts"], report["service"], report["service_parts"]
    assert (parts.bad_lines, parts.inserted) == (1, 399)
    assert parts.problems[0].line == 10 and "unit_price 'twelve'" in parts.problems[0].reason
    assert (services.bad_lines, services.inserted) == (1, 109)
    assert mappings.bad_lines == mappings.records - mappings.inserted >= orphaned > 0
    assert all("neither" in p.reason for p in mappings.problems)
    counts = _counts(autocorp_db)
    assert counts["auto_parts"] == 399 and counts["service"] == 109
    assert counts["service_parts"] == mappings.inserted


def test_skip_reports_bad_sampled_customer(autocorp_db: str, data: Path) -> None:
    from autocorp.source.seedfiles import sample_indices

    line = int(sample_indices(5000, 1150, 42)[3]) + 2
    _edit_line(data / "customers.csv", line, "Ann,Lee,ann-at-example,,,,TX,")
    with pytest.raises(DataFileError, match=rf"customers\.csv:{line}: email 'ann-at-example'"):
        load_seed_data(autocorp_db, data)
    customers = _by_table(load_seed_data(autocorp_db, data, on_error="skip"))["customers"]
    assert (customers.bad_lines, customers.selected, customers.inserted) == (1, 1150, 1148)
    assert any(p.line == line for p in customers.problems)


def test_duplicate_key_in_a_catalog_file(autocorp_db: str, data: Path) -> None:
    first = (data / "auto-parts.csv").read_text().splitlines()[1]
    _edit_line(data / "auto-parts.csv", 7, first)
    with pytest.raises(DataFileError, match=r"auto-parts\.csv:7: duplicate sku .* \(first on line 2\)"):
        load_seed_data(autocorp_db, data)
    parts = _by_table(load_seed_data(autocorp_db, data, on_error="skip"))["auto_parts"]
    assert (parts.duplicates, parts.inserted) == (1, 399)


def test_missing_file_and_wrong_header(autocorp_db: str, data: Path) -> None:
    (data / "customers.csv").unlink()
    with pytest.raises(DataFileError, match=r"customers\.csv: file not found"):
        load_seed_data(autocorp_db, data, on_error="skip")
    _edit_line(data / "auto-service.csv", 1, "serviceid,service,category,labor_minutes")
    with pytest.raises(DataFileError, match=r"auto-service\.csv:1: wrong columns .*missing \['labor_cost'\]"):
        load_seed_data(autocorp_db, data, on_error="skip")
    assert _counts(autocorp_db) == EMPTY


def test_database_without_schema(empty_db: str, seed_dir: Path) -> None:
    with pytest.raises(SchemaError, match="autocorp db init"):
        load_seed_data(empty_db, seed_dir)
