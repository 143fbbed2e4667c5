"""Reading the client's metrics in tests: the OTel SDK's in-memory reader, bound per test.

The global MeterProvider can be set once per process, so the tests never set it:
:func:`bound_reader` binds the client's instruments to a fresh SDK provider and
binds them back to the global one afterwards, so no test sees another's numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from aragora_redis import use_meter_provider


@contextmanager
def bound_reader() -> Iterator[InMemoryMetricReader]:
    """The client's instruments recording into a new in-memory reader, for the block.

    The reader can still be read after the block (the provider is not shut down:
    nothing records into it any more, and it is collected with the reader).
    """
    reader = InMemoryMetricReader()
    use_meter_provider(MeterProvider(metric_readers=[reader], shutdown_on_exit=False))
    try:
        yield reader
    finally:
        use_meter_provider(None)


def points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], Any]]:
    """Every data point of instrument ``name``: (attributes, point) pairs."""
    data = reader.get_metrics_data()
    found: list[tuple[dict[str, Any], Any]] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found += [(dict(p.attributes or {}), p) for p in metric.data.data_points]
    return found


def total(reader: InMemoryMetricReader, name: str, **attrs: Any) -> float:
    """The sum of counter ``name`` over points whose attributes include ``attrs``.

    Keyword names are attribute names with dots as double underscores
    (``aragora_redis__source="memory"``).
    """
    want = {k.replace("__", "."): v for k, v in attrs.items()}
    return float(
        sum(p.value for a, p in points(reader, name) if all(a.get(k) == v for k, v in want.items()))
    )
