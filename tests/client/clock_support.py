"""A clock for the I/O-free limiter tests: time moves only when a test moves it."""


class Clock:
    """Seconds, like ``time.monotonic``, set by the test."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
