"""The simulator's SQL: read the catalog, and one statement per business operation.

Every operation is a single SQL statement run on an autocommit connection, so it is
exactly one transaction and one round trip: data-modifying CTEs insert an order with
all its lines, change a line with its order total, or cancel an order with its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from autocorp.source.orders import Catalog, OrderPlan, Part, Service

_PARTS_SQL = "SELECT sku, unit_price FROM auto_parts ORDER BY sku"
_SERVICES_SQL = """
SELECT s.serviceid, s.labor_minutes, s.labor_cost,
       COALESCE(sum(sp.quantity * p.unit_price), 0)::numeric(10,2) AS parts_cost
FROM service s
LEFT JOIN service_parts sp ON sp.serviceid = s.serviceid
LEFT JOIN auto_parts p ON p.sku = sp.sku
GROUP BY s.serviceid, s.labor_minutes, s.labor_cost
ORDER BY s.serviceid
"""
_CUSTOMERS_SQL = "SELECT customer_id FROM customers ORDER BY customer_id"

_INSERT_ORDER_SQL = """
WITH o AS (
    INSERT INTO sales_order (customer_id, invoice_number, payment_method, total_amount, order_type)
    VALUES (%(customer_id)s, next_invoice_number(), %(payment_method)s, %(total)s, %(order_type)s)
    RETURNING order_id
), p AS (
    INSERT INTO sales_order_parts (order_id, sku, quantity, unit_price, line_total)
    SELECT o.order_id, u.sku, u.quantity, u.unit_price, u.line_total
    FROM o, unnest(%(skus)s::varchar[], %(quantities)s::int[], %(unit_prices)s::numeric[],
                   %(part_totals)s::numeric[]) WITH ORDINALITY AS u(sku, quantity, unit_price, line_total, n)
    ORDER BY u.n
    RETURNING line_id
), s AS (
    INSERT INTO sales_order_services (order_id, serviceid, labor_minutes, labor_cost, parts_cost, line_total)
    SELECT o.order_id, u.serviceid, u.labor_minutes, u.labor_cost, u.parts_cost, u.line_total
    FROM o, unnest(%(serviceids)s::varchar[], %(labor_minutes)s::int[], %(labor_costs)s::numeric[],
                   %(parts_costs)s::numeric[], %(service_totals)s::numeric[])
         AS u(serviceid, labor_minutes, labor_cost, parts_cost, line_total)
    RETURNING line_id
)
SELECT (SELECT order_id FROM o), ARRAY(SELECT line_id FROM p ORDER BY line_id), (SELECT count(*) FROM s)
"""

_PAYMENT_SQL = "UPDATE sales_order SET payment_method = %s WHERE order_id = %s"

# The new order total is recomputed from all lines: the changed line's new total plus the
# other lines as they are (the statement's snapshot still shows the changed line's old row).
_QUANTITY_SQL = """
WITH l AS (
    UPDATE sales_order_parts SET quantity = %(quantity)s, line_total = %(quantity)s * unit_price
    WHERE line_id = %(line_id)s
    RETURNING order_id, line_id, line_total
), o AS (
    UPDATE sales_order so
    SET total_amount = l.line_total
        + (SELECT COALESCE(sum(p.line_total), 0) FROM sales_order_parts p
           WHERE p.order_id = l.order_id AND p.line_id <> l.line_id)
        + (SELECT COALESCE(sum(s.line_total), 0) FROM sales_order_services s WHERE s.order_id = l.order_id)
    FROM l WHERE so.order_id = l.order_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM o)
"""

# Lines are deleted explicitly (not left to ON DELETE CASCADE) so every deleted row is counted.
_CANCEL_SQL = """
WITH p AS (DELETE FROM sales_order_parts WHERE order_id = %(order_id)s RETURNING 1),
     s AS (DELETE FROM sales_order_services WHERE order_id = %(order_id)s RETURNING 1),
     o AS (DELETE FROM sales_order WHERE order_id = %(order_id)s RETURNING 1)
SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM s) + (SELECT count(*) FROM o)
"""


@dataclass
class OrderRef:
    """An order this simulator created and may still update or cancel."""

    order_id: int
    payment_method: str
    part_lines: list[list[int]] = field(default_factory=list)  # [line_id, quantity]
    service_lines: int = 0

    @property
    def row_count(self) -> int:
        """Rows the order has: the header plus its lines."""
        return 1 + len(self.part_lines) + self.service_lines


def read_catalog(cur: Any) -> Catalog:
    """Parts with prices, services with their parts cost, and customer ids."""
    cur.execute(_PARTS_SQL)
    parts = tuple(Part(sku, Decimal(price)) for sku, price in cur.fetchall())
    cur.execute(_SERVICES_SQL)
    services = tuple(Service(sid, int(minutes), Decimal(labor), Decimal(parts_cost))
                     for sid, minutes, labor, parts_cost in cur.fetchall())
    cur.execute(_CUSTOMERS_SQL)
    customers = tuple(int(r[0]) for r in cur.fetchall())
    return Catalog(parts, services, customers)


def insert_order(cur: Any, plan: OrderPlan) -> tuple[OrderRef, int]:
    """Insert the order with all its lines; returns its reference and the rows inserted."""
    parts, services = plan.part_lines, plan.service_lines
    cur.execute(_INSERT_ORDER_SQL, {
        "customer_id": plan.customer_id, "payment_method": plan.payment_method,
        "total": plan.total, "order_type": plan.order_type,
        "skus": [p.sku for p in parts], "quantities": [p.quantity for p in parts],
        "unit_prices": [p.unit_price for p in parts], "part_totals": [p.line_total for p in parts],
        "serviceids": [s.serviceid for s in services], "labor_minutes": [s.labor_minutes for s in services],
        "labor_costs": [s.labor_cost for s in services], "parts_costs": [s.parts_cost for s in services],
        "service_totals": [s.line_total for s in services],
    })
    order_id, line_ids, n_services = cur.fetchone()
    lines = [[line_id, p.quantity] for line_id, p in zip(sorted(line_ids), parts, strict=True)]
    return OrderRef(order_id, plan.payment_method, lines, int(n_services)), 1 + len(line_ids) + int(n_services)


def change_payment(cur: Any, order: OrderRef, method: str) -> int:
    """Set the order's payment method; returns the rows updated (0 if the order is gone)."""
    cur.execute(_PAYMENT_SQL, (method, order.order_id))
    if cur.rowcount:
        order.payment_method = method
    return max(cur.rowcount, 0)


def change_quantity(cur: Any, order: OrderRef, line: list[int], quantity: int) -> int:
    """Change a parts line's quantity, its line total and the order total; returns rows updated."""
    cur.execute(_QUANTITY_SQL, {"quantity": quantity, "line_id": line[0]})
    lines_updated, orders_updated = cur.fetchone()
    if lines_updated:
        line[1] = quantity
    return int(lines_updated) + int(orders_updated)


def cancel_order(cur: Any, order: OrderRef) -> int:
    """Delete the order and all its lines; returns the rows deleted."""
    cur.execute(_CANCEL_SQL, {"order_id": order.order_id})
    return int(cur.fetchone()[0])
