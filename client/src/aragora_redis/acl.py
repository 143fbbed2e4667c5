"""The Redis commands the client sends, for least-privilege ACL users (Redis ACL, ElastiCache RBAC).

One source for every backend that creates an application user: a test gives a real
Redis user exactly :data:`CLIENT_COMMANDS` on Aragora's keys and channels and drives
all four stores through it, so a command the client starts using without listing it
here fails that test. Commands run inside our Lua scripts count too: Redis 7 checks
them against the caller's ACL.
"""

from __future__ import annotations

#: Every command (``command|subcommand`` where the ACL needs it) the client may send.
CLIENT_COMMANDS = (
    # connection set-up, health, and following the master
    # (not CLIENT SETINFO: redis-py ignores a refusal, and Redis < 7.2 rejects the rule)
    "ping", "hello", "auth", "select", "info", "role", "command", "client|setname",
    # sessions and debate state
    "get", "set", "getex", "del", "wait",
    "zadd", "zrangebyscore", "zrem", "zremrangebyscore",
    # event bus
    "publish", "subscribe", "psubscribe", "unsubscribe", "punsubscribe",
    "xadd", "xread", "xrevrange",
    # scripts, and what the scripts call
    "eval", "evalsha", "script|load", "time", "hmget", "hset", "pexpire",
    # transactions redis-py may open, and cluster routing
    "multi", "exec", "discard",
    "readonly", "readwrite", "asking", "cluster|slots", "cluster|shards",
)  # fmt: skip
#: Aragora's keys.
KEY_PATTERN = "~aragora:*"
#: Aragora's channels. PSUBSCRIBE is checked literally against these, so the patterns a
#: subscriber may use are listed as they are (every debate, every broadcast, everything).
CHANNEL_PATTERNS = ("&aragora:*", "&aragora:events:debate:*", "&aragora:broadcast:*")


def access_rules() -> str:
    """The ACL rules of an application user: Aragora's keys and channels, the client's commands."""
    commands = [f"+{c}" for c in CLIENT_COMMANDS]
    return " ".join([KEY_PATTERN, *CHANNEL_PATTERNS, "-@all", *commands])
