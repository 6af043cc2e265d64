"""A small AutoCorp catalog for tests: parts, services with their parts, customers (no orders)."""

from __future__ import annotations

import random
from decimal import Decimal

from autocorp.source.connect import connection, execute_values


def insert_catalog(dsn: str, *, parts: int = 30, services: int = 6, customers: int = 50, seed: int = 3,
                   max_parts_per_service: int = 8) -> None:
    """Insert a deterministic catalog the order simulator can sell from."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:03d}" for i in range(parts)]
    sids = [f"{48392017 + i:08d}" for i in range(services)]
    with connection(dsn) as conn, conn.cursor() as cur:
        execute_values(cur, "INSERT INTO auto_parts (sku, name, category, brand, unit_price, cost) VALUES %s",
                       [(s, f"Part {s}", "Brakes", "Acme", Decimal(rng.randint(99, 40000)) / 100, 1) for s in skus])
        execute_values(cur, "INSERT INTO service (serviceid, service, category, labor_minutes, labor_cost) VALUES %s",
                       [(s, f"Service {s}", "Brakes", rng.randint(15, 180), Decimal(rng.randint(2000, 50000)) / 100)
                        for s in sids])
        execute_values(cur, "INSERT INTO service_parts (serviceid, sku, quantity) VALUES %s",
                       [(s, sku, rng.randint(1, 4))
                        for s in sids for sku in rng.sample(skus, rng.randint(2, max_parts_per_service))])
        execute_values(cur, "INSERT INTO customers (first_name, last_name, email, state) VALUES %s",
                       [("Ann", f"Lee{i}", f"c{i}@example.com", "TX") for i in range(customers)])
