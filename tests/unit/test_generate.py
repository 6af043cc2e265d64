"""The seed-data generator: the design's numbers, determinism, and reading the files back."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from autocorp.errors import DataFileError
from autocorp.source import seedfiles
from autocorp.source.generate import generate
from autocorp.source.pools import STATE_CODES

SMALL = {"customers": 4000, "orders": 3000}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed42")
    generate(out, seed=42, **SMALL)
    return out


def test_catalog_counts_and_columns(small_dir: Path) -> None:
    for spec, expected in ((seedfiles.PARTS, 400), (seedfiles.SERVICES, 110), (seedfiles.SERVICE_PARTS, 1074),
                           (seedfiles.CUSTOMERS, 4000), (seedfiles.SALES_ORDERS, 3000)):
        rows = _rows(small_dir / spec.name)
        assert len(rows) == expected, spec.name
        assert list(rows[0]) == spec.column_names, spec.name


def test_services_span_exactly_the_eleven_categories(small_dir: Path) -> None:
    services = _rows(small_dir / "auto-service.csv")
    per_category = Counter(s["category"] for s in services)
    assert set(per_category) == set(seedfiles.SERVICE_CATEGORIES) and len(per_category) == 11
    ids = [s["serviceid"] for s in services]
    assert len(set(ids)) == 110 and all(re.fullmatch(r"[0-9]{8}", i) for i in ids)
    assert {"48392017", "92038482"} <= set(ids)
    brake = next(s for s in services if s["serviceid"] == "48392017")
    assert (brake["category"], brake["labor_minutes"], brake["labor_cost"]) == ("Brakes", "30", "45.00")


def test_service_parts_statistics(small_dir: Path) -> None:
    mappings = _rows(small_dir / "service-parts.csv")
    per_service = Counter(m["serviceid"] for m in mappings)
    assert len(mappings) == 1074
    assert per_service["92038482"] == 27
    assert per_service.most_common(2)[1][1] < 27, "92038482 must have strictly the most parts"
    assert abs(len(mappings) / 110 - 9.8) <= 0.1
    assert len({(m["serviceid"], m["sku"]) for m in mappings}) == 1074
    skus = {p["sku"] for p in _rows(small_dir / "auto-parts.csv")}
    services = {s["serviceid"] for s in _rows(small_dir / "auto-service.csv")}
    assert {m["sku"] for m in mappings} <= skus and set(per_service) == services
    assert all(int(m["quantity"]) > 0 for m in mappings)


def test_parts_are_unique_and_priced(small_dir: Path) -> None:
    parts = _rows(small_dir / "auto-parts.csv")
    assert len({p["sku"] for p in parts}) == 400
    assert all(0 < float(p["cost"]) < float(p["unit_price"]) for p in parts)
    assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", p["unit_price"]) for p in parts)


def test_customers_states_emails_and_planted_duplicates(small_dir: Path) -> None:
    customers = _rows(small_dir / "customers.csv")
    assert {c["state"] for c in customers} == set(STATE_CODES) and len(STATE_CODES) == 59
    assert all(EMAIL.match(c["email"]) for c in customers)
    counts = Counter(c["email"] for c in customers)
    repeated = [e for e, n in counts.items() if n > 1]
    assert 1 < len(repeated) <= 20 and max(counts.values()) == 2, "a few duplicate pairs on purpose"
    sample = [customers[i] for i in seedfiles.sample_indices(len(customers), 1150, 42)]
    assert len({c["email"] for c in sample}) == 1149, "exactly one duplicate pair inside the default sample"
    first_seen: dict[str, dict[str, str]] = {}
    for c in sample:
        first_seen.setdefault(c["email"], c)
    assert {c["state"] for c in first_seen.values()} == set(STATE_CODES)


def test_sales_orders_history(small_dir: Path) -> None:
    orders = _rows(small_dir / "sales_orders.csv")
    customers = _rows(small_dir / "customers.csv")
    sampled = {customers[i]["email"] for i in seedfiles.sample_indices(len(customers), 1150, 42)}
    assert len({o["invoice_number"] for o in orders}) == len(orders)
    assert all(re.fullmatch(r"INV-(\d{4})-\d{6}", o["invoice_number"]) for o in orders)
    assert all(o["invoice_number"][4:8] == o["order_date"][:4] for o in orders)
    assert {o["order_type"] for o in orders} == set(seedfiles.ORDER_TYPES)
    assert {o["payment_method"] for o in orders} <= set(seedfiles.PAYMENT_METHODS)
    assert {o["customer_email"] for o in orders} <= sampled
    dates = [o["order_date"] for o in orders]
    assert dates == sorted(dates) and all(d.endswith("Z") for d in dates)


def test_generated_files_pass_validation(small_dir: Path) -> None:
    for spec in seedfiles.SEED_FILES:
        sf = seedfiles.read_seed_file(small_dir / spec.name, spec)
        assert sf.bad == () and sf.rows.num_rows == sf.records > 0


def test_same_seed_same_bytes_other_seed_other_bytes(small_dir: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", seed=42, **SMALL)
    generate(tmp_path / "other", seed=7, **SMALL)
    for spec in seedfiles.SEED_FILES:
        original = (small_dir / spec.name).read_bytes()
        assert (tmp_path / "again" / spec.name).read_bytes() == original, spec.name
        assert (tmp_path / "other" / spec.name).read_bytes() != original, spec.name


def test_other_seed_keeps_the_design_numbers(tmp_path: Path) -> None:
    generate(tmp_path, seed=7, customers=3000, orders=10)
    per_service = Counter(m["serviceid"] for m in _rows(tmp_path / "service-parts.csv"))
    assert sum(per_service.values()) == 1074 and per_service.most_common(1)[0] == ("92038482", 27)
    customers = _rows(tmp_path / "customers.csv")
    sample = [customers[i]["email"] for i in seedfiles.sample_indices(3000, 1150, 7)]
    assert len(set(sample)) == 1149


def test_sample_indices_is_seeded_sorted_and_distinct() -> None:
    a = seedfiles.sample_indices(1_200_000, 1150, 42)
    assert list(a) == sorted(set(a.tolist())) and len(a) == 1150 and a.max() < 1_200_000
    assert (a == seedfiles.sample_indices(1_200_000, 1150, 42)).all()
    assert not (a == seedfiles.sample_indices(1_200_000, 1150, 43)).all()
    assert len(seedfiles.sample_indices(10, 1150, 42)) == 10


def test_full_size_generation(tmp_path: Path) -> None:
    """The real 1.2M-row dataset (a few seconds): counts, 59 states, 1,149 distinct sampled emails."""
    res = generate(tmp_path, seed=42)
    assert res.rows == {"auto-parts.csv": 400, "auto-service.csv": 110, "service-parts.csv": 1074,
                        "customers.csv": 1_200_000, "sales_orders.csv": 100_000}
    sf = seedfiles.read_seed_file(tmp_path / "customers.csv", seedfiles.CUSTOMERS)
    assert sf.records == 1_200_000 and sf.bad == ()
    assert set(sf.rows.column("state").unique().to_pylist()) == set(STATE_CODES)
    sample = sf.rows.column("email").take(seedfiles.sample_indices(sf.records, 1150, 42)).to_pylist()
    assert len(set(sample)) == 1149
    assert res.seconds < 60


# --- reading malformed files (no database needed) ---------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


MAPPING_HEADER = "serviceid,sku,quantity\n"


@pytest.mark.parametrize("body,line,reason", [
    ("12345678,SKU-1,2\n12345678,SKU-2\n", 3, "expected 3 columns, found 2"),
    ("12345678,SKU-1,2\n12345678,SKU-2,two\n", 3, "quantity 'two'"),
    ("12345678,SKU-1,2\n1234,SKU-2,1\n", 3, "serviceid '1234'"),
    ("12345678,SKU-1,2\n12345678,SKU-2,1,9\n", 3, "expected 3 columns, found 4"),
])
def test_malformed_line_is_named_or_skipped(tmp_path: Path, body: str, line: int, reason: str) -> None:
    path = _write(tmp_path / "service-parts.csv", MAPPING_HEADER + body)
    with pytest.raises(DataFileError) as info:
        seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS)
    assert f"service-parts.csv:{line}: " in str(info.value) and reason in str(info.value)
    sf = seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS, on_error="skip")
    assert sf.rows.column("sku").to_pylist() == ["SKU-1"]
    assert [b.line for b in sf.bad] == [line] and reason in sf.bad[0].reason


def test_invalid_email_is_reported_with_line(tmp_path: Path) -> None:
    header = ",".join(seedfiles.CUSTOMERS.column_names) + "\n"
    good = "Ann,Lee,ann@x.com,,,,TX,\n"
    path = _write(tmp_path / "customers.csv", header + good + good.replace("ann@x.com", "not-an-email"))
    with pytest.raises(DataFileError, match=r"customers\.csv:3: email 'not-an-email' is not an email"):
        seedfiles.read_seed_file(path, seedfiles.CUSTOMERS)


def test_blank_lines_are_ignored_but_counted_in_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "service-parts.csv", MAPPING_HEADER + "12345678,A,1\n\n12345678,B,x\n\n")
    with pytest.raises(DataFileError, match=r"service-parts\.csv:4: quantity 'x'"):
        seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS)


@pytest.mark.parametrize("header", ["serviceid,sku\n", "serviceid,sku,quantity,extra\n", "", "a,b,c\n",
                                    "serviceid,sku,sku\n"])
def test_wrong_column_set_is_rejected_even_with_skip(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path / "service-parts.csv", header + "12345678,A,1\n")
    with pytest.raises(DataFileError, match=r"service-parts\.csv:1: wrong columns"):
        seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS, on_error="skip")


def test_columns_in_another_order_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "service-parts.csv", "sku,quantity,serviceid\nA,3,12345678\n")
    sf = seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS)
    assert sf.rows.column_names == ["serviceid", "sku", "quantity"]
    assert sf.rows.to_pylist() == [{"serviceid": "12345678", "sku": "A", "quantity": "3"}]


def test_missing_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="file not found"):
        seedfiles.read_seed_file(tmp_path / "service-parts.csv", seedfiles.SERVICE_PARTS)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "service-parts.csv").mkdir()  # unreadable even for root
    with pytest.raises(DataFileError, match="cannot read"):
        seedfiles.read_seed_file(tmp_path / "dir" / "service-parts.csv", seedfiles.SERVICE_PARTS)
    path = tmp_path / "service-parts.csv"
    path.write_bytes(MAPPING_HEADER.encode() + b"12345678,A,1\n12345678,\xff\xfe,1\n")
    with pytest.raises(DataFileError, match=r"service-parts\.csv:3: "):
        seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS)


def test_many_bad_lines_are_all_counted(tmp_path: Path) -> None:
    body = "".join(f"12345678,S{i},{'x' if i % 2 else '1'}\n" for i in range(3000))
    path = _write(tmp_path / "service-parts.csv", MAPPING_HEADER + body)
    with pytest.raises(DataFileError, match=r"service-parts\.csv:3: quantity 'x' .*\(1499 more bad lines\)"):
        seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS)
    sf = seedfiles.read_seed_file(path, seedfiles.SERVICE_PARTS, on_error="skip")
    assert (sf.bad_count, sf.rows.num_rows, sf.records) == (1500, 1500, 3000)
    assert set(sf.rows.column("quantity").to_pylist()) == {"1"}


def test_generate_into_a_file_is_a_data_file_error(tmp_path: Path) -> None:
    target = _write(tmp_path / "not-a-dir", "x")
    with pytest.raises(DataFileError, match="choose a writable --out folder"):
        generate(target, customers=10, orders=1)
