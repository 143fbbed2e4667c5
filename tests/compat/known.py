"""What the compatibility suite expects of Aragora's own code on each topology.

``KNOWN`` names each Aragora-side defect the suite shows, with the file and line of
the pinned release (scripts/compat/requirements.in) where it lives; the tests mark
those cases xfail(strict=True), so a release that fixes one turns the test red until
it is removed here. Everything else must work. docs/aragora.md has the workarounds.
"""

from __future__ import annotations

#: Topology name -> the conftest fixture of that local stack (as `aragora-redis local up` runs it).
TOPOLOGIES = {
    "sentinel": "sentinel_haproxy",
    "sentinel-tls": "sentinel_haproxy_tls",
    "standalone": "standalone",
    "cluster": "cluster",
    "endpoint": "endpoint_topology",
}

PATHS = (
    "redis_ha.from_env",
    "redis_ha.get_redis_client",
    "redis_ha.check_redis_health",
    "server.redis_config",
    "server.redis_cluster",
    "rate_limiter",
    "rate_limiter.after_script_flush",
    "session_store",
    "pubsub",
    "pubsub.after_connection_closed",
    "debate_state",
    "config.validator",
    "ops.deployment_validator",
    "check_production_requirements",
    "logs_without_password",
)

#: The mode Aragora's RedisHAConfig.from_env must pick from what each stack emits.
EXPECTED_MODE = {
    "sentinel": "sentinel",
    # Aragora's Sentinel client has no TLS towards sentinels: it is given the URL (HAProxy).
    "sentinel-tls": "standalone",
    "standalone": "standalone",
    "cluster": "cluster",
    # A managed-style endpoint (one address, no Sentinel): Aragora sees a plain Redis.
    "endpoint": "standalone",
}

_EVERYWHERE = {
    "pubsub.after_connection_closed": (
        "Aragora: RedisBroadcastBridge._listen_loop returns for good when its connection is "
        "closed (server/stream/redis_bridge.py:178-179); nothing reconnects it"
    ),
    "rate_limiter.after_script_flush": (
        "Aragora: RedisTokenBucket caches the script SHA and never reloads it "
        "(server/middleware/rate_limit/bucket.py:145-150); NoScriptError escapes allow()"
    ),
    "logs_without_password": (
        "Aragora: RedisStateManager.connect logs the full URL, password included, at INFO "
        "(server/redis_state.py:152)"
    ),
}
_NOT_CLUSTER_AWARE = (
    "Aragora: its URL consumers use a plain redis.Redis, not a cluster client "
    "(utils/redis_config.py:146, server/redis_state.py:144): MOVED on other shards' keys"
)
_CLUSTER = {
    "server.redis_config": _NOT_CLUSTER_AWARE,
    "rate_limiter": _NOT_CLUSTER_AWARE,
    "rate_limiter.after_script_flush": _NOT_CLUSTER_AWARE,
    "session_store": _NOT_CLUSTER_AWARE,
    "debate_state": _NOT_CLUSTER_AWARE,
}
_TLS = {
    "server.redis_cluster": (
        "Aragora: storage/redis_cluster.py passes no TLS options to its clients "
        "(storage/redis_cluster.py:299-329), so TLS servers close the connection"
    ),
}

KNOWN: dict[tuple[str, str], str] = {
    **{(t, path): why for t in TOPOLOGIES for path, why in _EVERYWHERE.items()},
    **{("cluster", path): why for path, why in _CLUSTER.items()},
    **{("sentinel-tls", path): why for path, why in _TLS.items()},
}
