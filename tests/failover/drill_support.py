"""One drill fault with ours beside naive redis-py, for the per-topology drill tests."""

from __future__ import annotations

from collections.abc import Callable

from aragora_redis.drill import faults as f
from aragora_redis.drill.record import FaultResult
from aragora_redis.drill.run import Drill, DrillOptions
from aragora_redis.local import LocalStack

Record = Callable[[str, object], None]


def drill_one(
    stack: LocalStack, name: str, record_property: Record, *, settle_s: float = 3.0
) -> FaultResult:
    """Run the fault ``name`` of ``stack``'s topology once; record and print both clients'
    figures; assert that ours wrote, that naive ran, and that the fail-open limiter never
    raised."""
    (fault,) = f.parse_faults(name, f.faults_for(stack.options.topology))
    options = DrillOptions(faults=(fault,), baseline=True, warmup_s=1.0, settle_s=settle_s)
    (result,) = Drill(stack.settings, options, stack).run().faults
    naive = result.naive or {}
    for metric, value in result.ours.items():
        record_property(f"ours_{metric}", value)
    for metric, value in naive.items():
        record_property(f"naive_{metric}", value)
    print(f"\n{stack.options.topology} {name}: ours {result.ours}")
    print(f"{name}: naive {naive}")
    assert result.ours["acked_writes"] > 0
    # Naive ran beside: it wrote, or was refused. Behind an endpoint that keeps connections,
    # a planned failover can pause its first write of the window and then refuse every one
    # (READONLY on the demoted node): 0 acknowledged is its result there, not a drill fault.
    assert naive.get("acked_writes", 0) + naive.get("caller_errors", 0) > 0, "naive ran beside"
    assert result.ours["limiter_errors"] == 0, "the fail-open limiter raised"
    return result
