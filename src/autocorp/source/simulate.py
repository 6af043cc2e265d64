"""The order workload simulator: realistic sales written to the source tables at a chosen rate.

Each worker thread has its own autocommit connection and runs one business operation per
transaction: a new order with its lines, a payment-method change, a line-quantity change
(with line and order totals recomputed) or a cancellation (the order and its lines deleted).
A shared :class:`~autocorp.source.pacing.Pacer` spreads the work so the run does ``rate``
row changes per second across all workers.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from autocorp.errors import ConfigError, DatabaseUnavailable, SeedDataMissing, WorkloadError
from autocorp.source.connect import Connection, PgError, connect, mask_dsn
from autocorp.source.order_store import (
    OrderRef,
    cancel_order,
    change_payment,
    change_quantity,
    insert_order,
    read_catalog,
)
from autocorp.source.orders import Catalog, build_order, pick_payment_method, pick_quantity
from autocorp.source.pacing import Pacer
from autocorp.source.tally import SimulationReport, Tally

__all__ = ["SimulationReport", "simulate"]

_PROGRESS_EVERY_S = 0.5
_OWN_ORDERS_CAP = 5000  # orders a worker remembers for later updates and cancellations


@dataclass(frozen=True)
class _Mix:
    update_share: float
    delete_share: float


class _Run:
    """State shared by the workers of one simulation."""

    def __init__(self, catalog: Catalog, pacer: Pacer, stop: threading.Event, orders: int | None,
                 mix: _Mix) -> None:
        self.catalog = catalog
        self.pacer = pacer
        self.stop = stop
        self.mix = mix
        self.tally = Tally()
        self.error: BaseException | None = None
        self._orders_left = orders
        self._lock = threading.Lock()

    def claim_order(self) -> bool:
        """Reserve one of the orders still to be created (always True without an order quota)."""
        with self._lock:
            if self._orders_left is None:
                return True
            if self._orders_left <= 0:
                return False
            self._orders_left -= 1
            return True

    def orders_exhausted(self) -> bool:
        """True once every order of the quota is claimed: the run ends as those commit."""
        with self._lock:
            return self._orders_left is not None and self._orders_left <= 0

    def release_order(self) -> None:
        with self._lock:
            if self._orders_left is not None:
                self._orders_left += 1

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            self.error = self.error or exc
        self.stop.set()


class _OwnOrders:
    """The orders one worker created and has not cancelled: O(1) random pick and removal."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._orders: list[OrderRef] = []

    def __len__(self) -> int:
        return len(self._orders)

    def add(self, order: OrderRef) -> None:
        if len(self._orders) >= _OWN_ORDERS_CAP:
            self.pop()
        self._orders.append(order)

    def pick(self) -> OrderRef:
        return self._orders[self._rng.randrange(len(self._orders))]

    def pick_with_parts(self, tries: int = 4) -> OrderRef | None:
        for _ in range(tries):
            order = self.pick()
            if order.part_lines:
                return order
        return None

    def pop(self) -> OrderRef:
        i = self._rng.randrange(len(self._orders))
        self._orders[i], self._orders[-1] = self._orders[-1], self._orders[i]
        return self._orders.pop()


def _new_order(cur: object, rng: random.Random, run: _Run, own: _OwnOrders) -> bool:
    if not run.claim_order():
        return False
    plan = build_order(rng, run.catalog)
    if not run.pacer.acquire(plan.row_count):
        run.release_order()
        return False
    order, rows = insert_order(cur, plan)
    own.add(order)
    run.tally.add("order", inserts=rows)
    return True


def _update(cur: object, rng: random.Random, run: _Run, own: _OwnOrders) -> bool:
    order = own.pick_with_parts() if rng.random() < 0.5 else None
    if order is not None:
        if not run.pacer.acquire(2):
            return False
        line = rng.choice(order.part_lines)
        rows = change_quantity(cur, order, line, pick_quantity(rng, other_than=line[1]))
        run.tally.add("quantity_change", updates=rows)
        return True
    order = own.pick()
    if not run.pacer.acquire(1):
        return False
    rows = change_payment(cur, order, pick_payment_method(rng, other_than=order.payment_method))
    run.tally.add("payment_change", updates=rows)
    return True


def _cancel(cur: object, rng: random.Random, run: _Run, own: _OwnOrders) -> bool:
    order = own.pop()
    if not run.pacer.acquire(order.row_count):
        return False
    rows = cancel_order(cur, order)
    run.tally.add("cancellation", deletes=rows)
    return True


def _choose(rng: random.Random, mix: _Mix, own: _OwnOrders) -> Callable[..., bool]:
    """The next operation: a cancellation or an update by their shares (once there are orders to touch)."""
    r = rng.random()
    if own and r < mix.delete_share:
        return _cancel
    if own and r < mix.delete_share + mix.update_share:
        return _update
    return _new_order


def _work(conn: Connection, seed: int, run: _Run) -> None:
    """One worker: operations until the run stops, the order quota is used up or an error occurs."""
    rng = random.Random(seed)
    own = _OwnOrders(rng)
    try:
        with conn.cursor() as cur:
            while not run.stop.is_set() and not run.orders_exhausted():
                if not _choose(rng, run.mix, own)(cur, rng, run, own):
                    return
    except PgError as exc:
        run.fail(_convert(exc))
    except Exception as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
        run.fail(exc)


def _convert(exc: PgError) -> Exception:
    detail = (getattr(exc, "pgerror", None) or str(exc)).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    if getattr(exc, "pgcode", None) is None:  # no server error code: the connection itself failed
        return DatabaseUnavailable(f"lost the connection to PostgreSQL during the simulation: {reason}; "
                                   "check that the server runs (`autocorp db status`) and start again")
    return WorkloadError(f"a simulated order operation failed: {reason}; "
                         "check that the schema is current (`autocorp db init`) and the seed data loaded")


def _validate(rate: float, duration: float | None, orders: int | None, mix: _Mix, workers: int) -> None:
    problems = []
    if rate < 0:
        problems.append(f"rate must be >= 0 row changes/s (0 = as fast as possible), got {rate}")
    if duration is not None and duration <= 0:
        problems.append(f"duration must be > 0 seconds, got {duration}")
    if orders is not None and orders < 0:
        problems.append(f"orders must be >= 0, got {orders}")
    if not (0 <= mix.update_share <= 1 and 0 <= mix.delete_share <= 1) or \
            mix.update_share + mix.delete_share >= 1:
        problems.append(f"update share ({mix.update_share}) and delete share ({mix.delete_share}) must be "
                        "between 0 and 1 and add up to less than 1")
    if workers < 1:
        problems.append(f"workers must be >= 1, got {workers}")
    if problems:
        raise ConfigError("; ".join(problems))


def _open(dsn: str, workers: int) -> list[Connection]:
    conns: list[Connection] = []
    try:
        for _ in range(workers):
            conns.append(connect(dsn, autocommit=True))
    except BaseException:
        for c in conns:
            c.close()
        raise
    return conns


def _load_catalog(conn: Connection, dsn: str) -> Catalog:
    try:
        with conn.cursor() as cur:
            catalog = read_catalog(cur)
            cur.execute("SELECT to_regproc('next_invoice_number') IS NOT NULL")
            has_invoice_fn = bool(cur.fetchone()[0])
    except PgError as exc:
        raise WorkloadError(f"cannot read parts, services and customers from {mask_dsn(dsn)}: "
                            f"{(exc.pgerror or str(exc)).strip()}; run `autocorp db init` first") from None
    if not has_invoice_fn:
        raise WorkloadError("the source schema is out of date (no next_invoice_number()): run `autocorp db init`")
    missing = catalog.missing()
    if missing:
        raise SeedDataMissing(f"cannot simulate orders: table(s) {', '.join(missing)} are empty in "
                              f"{mask_dsn(dsn)}; run `autocorp source load` first")
    return catalog


def _supervise(threads: list[threading.Thread], run: _Run, start: float,
               progress: Callable[[SimulationReport], None] | None) -> float:
    """Wait for the workers, reporting progress; returns the elapsed seconds. Ctrl-C stops them cleanly."""
    next_report = start + _PROGRESS_EVERY_S
    try:
        for t in threads:
            t.start()
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(0.05)
            if progress is not None and time.monotonic() >= next_report:
                progress(run.tally.report(time.monotonic() - start, run.pacer.rate, len(threads)))
                next_report = time.monotonic() + _PROGRESS_EVERY_S
        deadline = run.pacer.deadline
        if run.pacer.deadline_reached and deadline is not None:
            # a paced run that stopped because nothing more was due before the deadline lasted until it
            run.stop.wait(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        run.stop.set()
        for t in threads:
            t.join()
    end = time.monotonic()
    if run.pacer.deadline_reached and run.pacer.deadline is not None:
        end = min(end, run.pacer.deadline)
    return end - start


def simulate(dsn: str, *, rate: float = 0, duration: float | None = None, orders: int | None = None,
             seed: int = 42, update_share: float = 0.1, delete_share: float = 0.05, workers: int = 1,
             progress: Callable[[SimulationReport], None] | None = None) -> SimulationReport:
    """Write a realistic order workload into the source database.

    Args:
        dsn: the source database (holding the schema, parts, services and customers).
        rate: target row changes per second over all workers; 0 runs as fast as possible.
        duration: stop after this many seconds.
        orders: stop once exactly this many orders were created.
            With neither ``duration`` nor ``orders`` it runs until interrupted (Ctrl-C).
        seed: seed of the random choices (worker ``i`` uses ``seed * 1000 + i``).
        update_share: share of operations that update an order this run created
            (half payment-method changes, half line-quantity changes).
        delete_share: share of operations that cancel (delete) such an order with its lines.
        workers: worker threads, each with its own connection.
        progress: called about twice a second with the report so far.

    Returns:
        What was done; on KeyboardInterrupt, what was done until then.

    Raises:
        ConfigError: an argument is out of range.
        DatabaseUnavailable: the server cannot be reached.
        SeedDataMissing: parts, services or customers are not loaded.
        WorkloadError: the schema is out of date or an operation failed.
    """
    mix = _Mix(update_share, delete_share)
    _validate(rate, duration, orders, mix, workers)
    conns = _open(dsn, workers)
    try:
        catalog = _load_catalog(conns[0], dsn)
        stop = threading.Event()
        start = time.monotonic()
        pacer = Pacer(rate, stop, start=start, deadline=None if duration is None else start + duration)
        run = _Run(catalog, pacer, stop, orders, mix)
        threads = [threading.Thread(target=_work, args=(c, seed * 1000 + i, run), name=f"simulate-{i}", daemon=True)
                   for i, c in enumerate(conns)]
        elapsed = _supervise(threads, run, start, progress)
    finally:
        for c in conns:
            c.close()
    if run.error is not None:
        raise run.error
    return run.tally.report(elapsed, rate, workers)
