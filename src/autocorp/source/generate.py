"""Deterministic seed data: the CSV files of the design, generated from one integer seed.

``generate(out_dir, seed=42)`` writes ``auto-parts.csv`` (400 parts), ``auto-service.csv``
(110 services, 10 in each of the 11 categories), ``service-parts.csv`` (1,074 mappings, service
``92038482`` having the most: 27), ``customers.csv`` (1,200,000 rows across 59 state codes) and
``sales_orders.csv`` (a history of past orders for the file-sync path). The same seed gives
byte-identical files; each file draws from its own random stream, so changing one never shifts
another. Column names and formats are those of ``source.seedfiles``.

Customers are built column-wise: Faker fills small pools once (``source.pools``), numpy draws
indices into them and pyarrow assembles the strings, so 1.2M rows take seconds, not minutes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from autocorp.errors import DataFileError
from autocorp.source import seedfiles
from autocorp.source.customers import build_customers
from autocorp.source.pools import BRANDS, CATEGORY_PROFILE, PART_GRADES, SERVICES
from autocorp.source.seedfiles import CUSTOMERS, PARTS, SALES_ORDERS, SERVICE_CATEGORIES, SERVICE_PARTS

PART_ROWS = 400
MAPPING_ROWS = 1074
CUSTOMER_ROWS = 1_200_000
ORDER_ROWS = 100_000
DEFAULT_SAMPLE = 1150
BIG_SERVICE, BIG_SERVICE_PARTS = "92038482", 27  # the design's service with the most parts
BRAKE_SERVICE = "48392017"  # the design's example service: 30 minutes, $45.00 labor
LABOR_CENTS_PER_MINUTE = 150  # $90/hour, the rate of the design's example order
MIN_PARTS, MAX_PARTS = 3, 24  # every other service: strictly fewer parts than BIG_SERVICE
HISTORY_START = int(np.datetime64("2023-11-01T00:00:00", "s").astype(np.int64))
HISTORY_END = int(np.datetime64("2025-11-01T00:00:00", "s").astype(np.int64))

# random stream tags, one per file
_PARTS, _SERVICES, _MAPPINGS, _CUSTOMERS, _ORDERS = range(1, 6)


@dataclass(frozen=True)
class GenerateResult:
    """What ``generate`` wrote: the folder, the seed, rows per file and the time it took."""

    out_dir: str
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def generate(
    out_dir: Path,
    *,
    seed: int = 42,
    customers: int = CUSTOMER_ROWS,
    orders: int = ORDER_ROWS,
    sample: int = DEFAULT_SAMPLE,
) -> GenerateResult:
    """Write the five seed files into ``out_dir`` (created if missing), deterministically from ``seed``.

    ``sample`` must match the loader's ``--sample``: the customer file plants exactly one duplicate
    email inside ``seedfiles.sample_indices(customers, sample, seed)`` (see ``source.customers``).

    Raises:
        DataFileError: ``out_dir`` cannot be created or written.
    """
    started = time.perf_counter()
    parts = build_parts(_rng(seed, _PARTS))
    services = build_services(_rng(seed, _SERVICES))
    mappings = build_service_parts(_rng(seed, _MAPPINGS), parts, services)
    people = build_customers(_rng(seed, _CUSTOMERS), seed, customers, sample)
    sampled = people.column("email").take(pa.array(seedfiles.sample_indices(customers, sample, seed)))
    history = build_orders(_rng(seed, _ORDERS), sampled, orders)
    tables = {PARTS.name: parts, seedfiles.SERVICES.name: services, SERVICE_PARTS.name: mappings,
              CUSTOMERS.name: people, SALES_ORDERS.name: history}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            write_table(table, out_dir / name)
    except (OSError, pa.ArrowException) as exc:
        raise DataFileError(f"cannot write seed files to {out_dir}: {exc}; choose a writable --out folder") from None
    rows = {name: t.num_rows for name, t in tables.items()}
    return GenerateResult(str(out_dir), seed, rows, round(time.perf_counter() - started, 3))


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` as an unquoted CSV (values never hold commas or quotes), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none",
                                                          batch_size=1 << 16))
    os.replace(tmp, path)


def _dollars(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.astype(np.int64).tolist()]


def build_parts(rng: np.random.Generator) -> pa.Table:
    """400 parts, 36-37 per category, named ``<grade> <noun>`` with category-typical prices."""
    per_category = np.full(len(SERVICE_CATEGORIES), PART_ROWS // len(SERVICE_CATEGORIES))
    per_category[rng.choice(len(per_category), PART_ROWS % len(per_category), replace=False)] += 1
    numbers = rng.choice(90_000, PART_ROWS, replace=False) + 10_000
    cols: dict[str, list[str]] = {c: [] for c in PARTS.column_names}
    for category, count in zip(SERVICE_CATEGORIES, per_category.tolist(), strict=True):
        prefix, price, _, nouns = CATEGORY_PROFILE[category]
        combos = [f"{grade} {noun}" for noun in nouns for grade in PART_GRADES]
        cols["name"] += [combos[i] for i in rng.choice(len(combos), count, replace=False)]
        cols["category"] += [category] * count
        cols["brand"] += [BRANDS[i] for i in rng.integers(0, len(BRANDS), count)]
        cents = np.clip(np.rint(np.exp(rng.normal(np.log(price * 100), 0.55, count))), 199, 9_999_999)
        cols["unit_price"] += _dollars(cents)
        cols["cost"] += _dollars(np.rint(cents * rng.uniform(0.45, 0.72, count)))
        cols["sku"] += [f"{prefix}-{n}" for n in numbers[len(cols["sku"]):len(cols["sku"]) + count]]
    cols["stock_quantity"] = [str(q) for q in rng.integers(0, 300, PART_ROWS)]
    return pa.table({c: pa.array(cols[c], pa.string()) for c in PARTS.column_names})


def build_services(rng: np.random.Generator) -> pa.Table:
    """110 services, 10 per category; labor minutes in 15-minute steps at $90/hour."""
    ids = _service_ids(rng)
    names, categories, minutes = [], [], []
    for category in SERVICE_CATEGORIES:
        typical = CATEGORY_PROFILE[category][2]
        drawn = np.exp(rng.normal(np.log(typical), 0.45, len(SERVICES[category])))
        names += list(SERVICES[category])
        categories += [category] * len(SERVICES[category])
        minutes += [max(15, int(round(m / 15)) * 15) for m in drawn]
    big = SERVICE_CATEGORIES.index("Engine & Powertrain") * 10
    brake = SERVICE_CATEGORIES.index("Brakes") * 10
    ids[big], ids[brake] = BIG_SERVICE, BRAKE_SERVICE
    minutes[big], minutes[brake] = 960, 30  # engine rebuild: two days; the design's brake job: 30 min
    return pa.table({
        "serviceid": pa.array(ids, pa.string()),
        "service": pa.array(names, pa.string()),
        "category": pa.array(categories, pa.string()),
        "labor_minutes": pa.array([str(m) for m in minutes], pa.string()),
        "labor_cost": pa.array(_dollars(np.array(minutes) * LABOR_CENTS_PER_MINUTE), pa.string()),
    })


def _service_ids(rng: np.random.Generator) -> list[str]:
    """110 distinct 8-digit ids, none equal to the two fixed ids (placed by the caller)."""
    drawn = rng.integers(10_000_000, 100_000_000, 400)
    _, first = np.unique(drawn, return_index=True)
    ordered = [str(v) for v in drawn[np.sort(first)] if str(v) not in (BIG_SERVICE, BRAKE_SERVICE)]
    return ordered[: len(SERVICE_CATEGORIES) * 10]


def build_service_parts(rng: np.random.Generator, parts: pa.Table, services: pa.Table) -> pa.Table:
    """1,074 mappings: service 92038482 gets 27 parts, the others 3-24, parts mostly from their category."""
    service_ids = services.column("serviceid").to_pylist()
    service_cats = services.column("category").to_pylist()
    skus = parts.column("sku").to_pylist()
    part_cats = np.array(parts.column("category").to_pylist())
    counts = _parts_per_service(rng, len(service_ids), service_ids.index(BIG_SERVICE))
    out: dict[str, list[str]] = {"serviceid": [], "sku": [], "quantity": []}
    for sid, category, count in zip(service_ids, service_cats, counts.tolist(), strict=True):
        weights = np.where(part_cats == category, 10.0, 0.5)
        weights[np.isin(part_cats, ("Fluids & Filters", "General Preventive Maintenance"))] += 1.5
        chosen = np.sort(rng.choice(len(skus), count, replace=False, p=weights / weights.sum()))
        fluid = part_cats[chosen] == "Fluids & Filters"
        qty = np.where(fluid, rng.integers(1, 6, count), 1 + np.minimum(rng.poisson(0.3, count), 3))
        out["serviceid"] += [sid] * count
        out["sku"] += [skus[i] for i in chosen]
        out["quantity"] += [str(q) for q in qty.tolist()]
    return pa.table({c: pa.array(v, pa.string()) for c, v in out.items()})


def _parts_per_service(rng: np.random.Generator, n_services: int, big: int) -> np.ndarray:
    counts = np.clip(np.rint(rng.normal(9.6, 3.5, n_services)), MIN_PARTS, MAX_PARTS).astype(np.int64)
    counts[big] = BIG_SERVICE_PARTS
    while (diff := MAPPING_ROWS - int(counts.sum())) != 0:
        i = int(rng.integers(0, n_services))
        step = 1 if diff > 0 else -1
        if i != big and MIN_PARTS <= counts[i] + step <= MAX_PARTS:
            counts[i] += step
    return counts


def build_orders(rng: np.random.Generator, emails: pa.Array | pa.ChunkedArray, n: int) -> pa.Table:
    """``n`` past orders of the sampled customers over two years, in date order.

    Invoice numbers run per year (``INV-2024-000001`` ...); dates are ISO 8601 UTC.
    """
    seconds = np.sort(rng.integers(HISTORY_START, HISTORY_END, n))
    stamps = pa.array(seconds, pa.timestamp("s", tz="UTC"))
    years = pc.year(stamps).to_numpy().astype(np.int64)
    starts = np.searchsorted(years, years, side="left")  # years are sorted: index of the year's first order
    seq = np.arange(n) - starts + 1
    types = rng.choice(len(seedfiles.ORDER_TYPES), n, p=[0.45, 0.35, 0.20])
    payments = rng.choice(len(seedfiles.PAYMENT_METHODS), n, p=[0.45, 0.25, 0.10, 0.03, 0.07, 0.10])
    typical = np.log(np.array([90.0, 220.0, 380.0]) * 100)[types]
    cents = np.maximum(np.rint(np.exp(rng.normal(typical, 0.7))), 500).astype(np.int64)
    return pa.table({
        "invoice_number": pc.binary_join_element_wise(
            "INV-", _text(years), "-", pc.utf8_lpad(_text(seq), 6, "0"), ""),
        "customer_email": emails.take(pa.array(rng.integers(0, len(emails), n))),
        "order_date": pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%SZ"),
        "order_type": pa.array(seedfiles.ORDER_TYPES).take(pa.array(types)),
        "payment_method": pa.array(seedfiles.PAYMENT_METHODS).take(pa.array(payments)),
        "total_amount": money_text(cents),
    })


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def money_text(cents: np.ndarray) -> pa.Array:
    """Integer cents as ``D.CC`` strings, vectorised."""
    return pc.binary_join_element_wise(_text(cents // 100), pc.utf8_lpad(_text(cents % 100), 2, "0"), ".")
