"""I/O-free: a circuit breaker, so a dead Redis costs one fast failure, not one per call.

States::

    closed     --threshold consecutive failures-->  open
    open       --recovery seconds later, one caller--> half_open (that caller probes)
    half_open  --probe succeeds--> closed;  --probe fails--> open (timer restarts)

While open, and while a probe is in flight, :meth:`Breaker.allow` says no at once.
The clock is injected so the tests step through the states without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from . import _metrics
from .errors import ConfigError

State = Literal["closed", "open", "half_open"]


class Breaker:
    """Count consecutive failures; stop calling after ``threshold``; probe after ``recovery`` s.

    A probe that never reports back (its caller was cancelled) is given up after
    another ``recovery`` seconds, so the breaker cannot stay half-open forever.
    Thread-safe.
    """

    def __init__(self, threshold: int, recovery: float, clock: Callable[[], float]) -> None:
        if threshold < 1:
            raise ConfigError("failure_threshold", f"got {threshold!r}, expected 1 or more")
        if not recovery > 0:
            raise ConfigError("recovery", f"got {recovery!r}, expected seconds above 0")
        self.threshold = threshold
        self.recovery = recovery
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._since = 0.0  # when the breaker opened, or when the probe started

    @property
    def state(self) -> State:
        """``closed``, ``open`` or ``half_open``, as of the last call."""
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures since the last success."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until the next probe may go out (0 when closed)."""
        if self._state == "closed":
            return 0.0
        return max(0.0, self._since + self.recovery - self._clock())

    def allow(self) -> bool:
        """Whether this caller should call Redis now (when half-open: it is the probe)."""
        if self._state == "closed":
            return True
        with self._lock:
            return self._may_probe()

    def _may_probe(self) -> bool:
        if self._state == "closed":  # another thread's probe closed it meanwhile
            return True
        now = self._clock()
        if now - self._since < self.recovery:
            return False
        self._move("half_open")
        self._since = now
        return True

    def _move(self, state: State) -> None:
        """Change state (the lock is held) and record the transition."""
        if state != self._state:
            _metrics.breaker_changed(self._state, state)
            self._state = state

    def success(self) -> None:
        """Redis answered: close the breaker."""
        if self._state == "closed" and self._failures == 0:
            return
        with self._lock:
            self._move("closed")
            self._failures = 0

    def failure(self) -> None:
        """Redis failed: count it, and open at the threshold (or when the probe failed)."""
        with self._lock:
            self._failures += 1
            if self._state == "half_open" or (
                self._state == "closed" and self._failures >= self.threshold
            ):
                self._move("open")
                self._since = self._clock()
