"""The client's command list is complete: all four stores work as a user allowed only those."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis.exceptions import NoPermissionError

from aragora_redis import Check, connect, connect_redis, keys
from aragora_redis.acl import CLIENT_COMMANDS, access_rules


@pytest.fixture
def app_user(standalone: Any) -> Iterator[Any]:
    admin = standalone.client("redis-0")
    name, password = f"app-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    admin.execute_command(
        "ACL", "SETUSER", name, "reset", "on", f">{password}", *access_rules().split()
    )
    try:
        yield standalone.settings.replace(username=name, password=password)
    finally:
        admin.execute_command("ACL", "DELUSER", name)
        admin.close()


def test_every_store_works_with_only_the_client_commands(app_user: Any) -> None:
    stores = connect(app_user)
    debate = uuid.uuid4().hex
    channel = keys.debate_channel(debate)
    live = stores.events.subscribe(channel)
    durable = stores.events.subscribe(channel, durable=True)
    patterns = stores.events.subscribe("aragora:events:debate:*")
    assert stores.rate_limiter.hit(f"acl:{debate}", rate=1, burst=2).allowed
    assert [d.allowed for d in stores.rate_limiter.hit_many([Check(f"acl:{debate}", 1, 2)])] == [
        True
    ]
    stores.sessions.put("auth", debate, {"u": 1})
    assert stores.sessions.get("auth", debate) == {"u": 1}
    assert stores.sessions.delete("auth", debate)
    stores.state.save(debate, {"n": 0})
    assert stores.state.update(debate, lambda s: {"n": s["n"] + 1}) == {"n": 1}
    assert debate in stores.state.active()
    assert stores.state.delete(debate)
    stores.events.publish(channel, "vote", 1, durable=True)
    for sub in (live, durable, patterns):
        event = sub.get(timeout=5)
        assert event is not None
        assert event.type == "vote", event.payload
        sub.close()
    stores.close()


def test_anything_else_is_refused(app_user: Any) -> None:
    client = connect_redis(app_user)
    with pytest.raises(NoPermissionError):
        client.flushall()
    with pytest.raises(NoPermissionError):
        client.set("not-aragora", 1)
    client.close()
    assert "flushall" not in CLIENT_COMMANDS
