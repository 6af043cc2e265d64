"""Rate limiting shared by the simulator's worker threads.

The pacer keeps one schedule for all workers: the unit of work ``n`` (counted from the
start) is due at ``start + n / rate``. A worker reserves the units its next operation will
do and sleeps until they are due, so the long-run rate is exact however the work is split
between workers, and a slow moment is caught up afterwards instead of lost.
"""

from __future__ import annotations

import threading
import time


class Pacer:
    """Releases ``rate`` units of work per second (unlimited when ``rate`` is 0) until ``deadline``."""

    def __init__(self, rate: float, stop: threading.Event, *, start: float | None = None,
                 deadline: float | None = None) -> None:
        self.rate = rate
        self.stop = stop
        self.start = time.monotonic() if start is None else start
        self.deadline = deadline
        self.deadline_reached = False
        self._reserved = 0.0
        self._lock = threading.Lock()

    def acquire(self, units: int) -> bool:
        """Wait until ``units`` more units may be done.

        Returns:
            False when the run must end first: the stop event was set, or the work would be
            due at or after the deadline (then ``deadline_reached`` is set).
        """
        with self._lock:
            due = self.start + self._reserved / self.rate if self.rate > 0 else time.monotonic()
            if self.deadline is not None and due >= self.deadline:
                self.deadline_reached = True
                return False
            self._reserved += units
        delay = due - time.monotonic()
        if delay > 0 and self.stop.wait(delay):
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.deadline_reached = True
            return False
        return not self.stop.is_set()
