"""Realistic sales orders for the workload simulator: the catalog snapshot and order plans.

Pure Python (no database): the simulator reads a :class:`Catalog` once, then builds
:class:`OrderPlan` values whose amounts already satisfy the schema's CHECKs —
a parts line is ``quantity × unit_price``, a service line is ``labor_cost + parts_cost``
and the order total is the sum of its lines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

PAYMENT_METHODS = ("Credit Card", "Debit Card", "Cash", "Check", "Financing", "Gift Card")
_PAYMENT_WEIGHTS = (45, 25, 12, 3, 8, 7)

ORDER_TYPES = ("Parts", "Service", "Mixed")
_ORDER_TYPE_WEIGHTS = (45, 35, 20)

# quantities of a parts line: mostly one or two of a part
_QUANTITIES = (1, 2, 3, 4, 6)
_QUANTITY_WEIGHTS = (50, 25, 12, 8, 5)


@dataclass(frozen=True)
class Part:
    sku: str
    unit_price: Decimal


@dataclass(frozen=True)
class Service:
    serviceid: str
    labor_minutes: int
    labor_cost: Decimal
    parts_cost: Decimal  # Σ service_parts.quantity × auto_parts.unit_price

    @property
    def line_total(self) -> Decimal:
        return self.labor_cost + self.parts_cost


@dataclass(frozen=True)
class Catalog:
    """What orders can be made of: read once when a simulation starts."""

    parts: tuple[Part, ...]
    services: tuple[Service, ...]
    customer_ids: tuple[int, ...]

    def missing(self) -> list[str]:
        """Names of the empty parts of the catalog (empty list when orders can be built)."""
        return [name for name, rows in (("auto_parts", self.parts), ("service", self.services),
                                        ("customers", self.customer_ids)) if not rows]


@dataclass(frozen=True)
class PartLine:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class OrderPlan:
    """One order to insert: header values and its lines."""

    customer_id: int
    payment_method: str
    order_type: str
    part_lines: tuple[PartLine, ...]
    service_lines: tuple[Service, ...]

    @property
    def total(self) -> Decimal:
        return sum((p.line_total for p in self.part_lines), Decimal(0)) + sum(
            (s.line_total for s in self.service_lines), Decimal(0))

    @property
    def row_count(self) -> int:
        """Rows the order inserts: the header plus one per line."""
        return 1 + len(self.part_lines) + len(self.service_lines)


def build_order(rng: random.Random, catalog: Catalog) -> OrderPlan:
    """A random order: Parts (1-5 part lines), Service (1-3 services) or Mixed (1-2 services + 1-4 parts)."""
    order_type = rng.choices(ORDER_TYPES, _ORDER_TYPE_WEIGHTS)[0]
    n_parts, n_services = {
        "Parts": (rng.randint(1, 5), 0),
        "Service": (0, rng.randint(1, 3)),
        "Mixed": (rng.randint(1, 4), rng.randint(1, 2)),
    }[order_type]
    parts = rng.sample(catalog.parts, min(n_parts, len(catalog.parts)))
    services = rng.sample(catalog.services, min(n_services, len(catalog.services)))
    return OrderPlan(
        customer_id=rng.choice(catalog.customer_ids),
        payment_method=pick_payment_method(rng),
        order_type=order_type,
        part_lines=tuple(PartLine(p.sku, pick_quantity(rng), p.unit_price) for p in parts),
        service_lines=tuple(services),
    )


def pick_payment_method(rng: random.Random, *, other_than: str | None = None) -> str:
    """A payment method from the schema's CHECK list, weighted like a real shop; never ``other_than``."""
    while True:
        method = rng.choices(PAYMENT_METHODS, _PAYMENT_WEIGHTS)[0]
        if method != other_than:
            return method


def pick_quantity(rng: random.Random, *, other_than: int | None = None) -> int:
    """A parts-line quantity; never ``other_than`` (so a quantity change really changes it)."""
    while True:
        quantity = rng.choices(_QUANTITIES, _QUANTITY_WEIGHTS)[0]
        if quantity != other_than:
            return quantity
