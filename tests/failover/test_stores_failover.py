"""The four stores through a Sentinel failover (sync); twin of test_stores_failover_async.py."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from aragora_redis import Event, connect, keys
from tests.support import failover_and_wait


def test_stores_keep_working_through_a_failover(sentinel: Any) -> None:
    stores = connect(sentinel.settings)
    debate = f"failover-{uuid.uuid4().hex}"
    channel = keys.debate_channel(debate)
    live = stores.events.subscribe(channel)
    durable = stores.events.subscribe(channel, durable=True)
    heard: list[Event] = []
    done = threading.Event()

    def listen() -> None:  # a real subscriber reads all the time, as a WebSocket server does
        while not done.is_set():
            if (event := live.get(timeout=0.2)) is not None:
                heard.append(event)

    reader = threading.Thread(target=listen)
    reader.start()
    stores.sessions.put("auth", debate, {"before": True}, durable=True)
    stores.state.save(debate, {"round": 1})
    first = stores.rate_limiter.hit(f"failover:{debate}", rate=100, burst=100)
    assert first.source == "redis"
    for i in range(10):
        stores.events.publish(channel, "n", i, durable=True)

    failover_and_wait(stores.settings)

    assert stores.sessions.get("auth", debate) == {"before": True}
    assert stores.state.update(debate, lambda s: {**s, "round": 2}) == {"round": 2}
    decision = stores.rate_limiter.hit(f"failover:{debate}", rate=100, burst=100)
    assert decision.source == "redis"  # the script was loaded again on the new master
    assert decision.allowed
    time.sleep(0.5)  # the subscriber moves to the new master (its gap event marks the move)
    for i in range(10, 20):
        stores.events.publish(channel, "n", i, durable=True)
    delivered = [durable.get(timeout=10) for _ in range(20)]
    assert [e.payload for e in delivered if e] == list(range(20))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and [e.payload for e in heard][-1:] != [19]:
        time.sleep(0.05)
    done.set()
    reader.join()
    payloads = [e.payload for e in heard if not e.is_gap]
    assert payloads[-10:] == list(range(10, 20)), (
        "the live subscriber hears events after the failover"
    )
    live.close()
    durable.close()
    stores.close()
