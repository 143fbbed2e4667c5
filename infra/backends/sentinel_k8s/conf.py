"""The files of the topology's ConfigMap and Secret (I/O-free).

``redis.conf`` and ``sentinel.conf`` are rendered by :mod:`aragora_redis.conf`
and ``haproxy.cfg`` by :mod:`aragora_redis.haproxy`, the code the local stack
runs. Each config is split: the part without a password goes into the
ConfigMap (one file per pod, since each announces its own DNS name), the
password lines into the Secret; an init container writes ``public + secret``
into a writable in-memory volume.
"""

from __future__ import annotations

from dataclasses import dataclass

from aragora_redis import HostPort
from aragora_redis.conf import (
    RedisNodeSpec,
    SentinelSpec,
    SentinelTimings,
    TlsFiles,
    redis_conf_parts,
    sentinel_conf_parts,
)
from aragora_redis.haproxy import HaproxySpec, render_haproxy_cfg

from . import scripts
from .names import (
    CONF_DIR,
    DATA_DIR,
    HAPROXY_STATS_PORT,
    REDIS_PORT,
    SENTINEL_PORT,
    TLS_CA,
    TLS_CERT,
    TLS_KEY,
    TLS_MOUNT,
    Names,
)
from .settings import SentinelK8sSettings
from .values import quantity_bytes

#: Listen on every IPv4 and, where there is one, IPv6 address of the pod.
BIND_ALL = ("*", "-::*")
#: Rendered in place of a password where the text must not depend on it.
_PLACEHOLDER = "placeholder"
#: The Secret's keys (names, not passwords).
REDIS_PASSWORD_KEY = "redis-password"  # noqa: S105
SENTINEL_PASSWORD_KEY = "sentinel-password"  # noqa: S105
REDIS_AUTH_FILE = "redis-auth.conf"
SENTINEL_AUTH_FILE = "sentinel-auth.conf"
HAPROXY_CFG = "haproxy.cfg"


@dataclass(frozen=True)
class Topology:
    """One deployment's settings, names and whether it speaks TLS."""

    settings: SentinelK8sSettings
    names: Names
    tls: bool

    @property
    def tls_files(self) -> TlsFiles | None:
        """The certificate files as the pods mount them (cert-manager's key names)."""
        if not self.tls:
            return None
        return TlsFiles(
            f"{TLS_MOUNT}/{TLS_CERT}", f"{TLS_MOUNT}/{TLS_KEY}", f"{TLS_MOUNT}/{TLS_CA}"
        )

    @property
    def data_nodes(self) -> tuple[HostPort, ...]:
        """Every data pod as host:port; the first is the initial master."""
        return self.names.redis_nodes(self.settings.data_nodes)

    @property
    def sentinel_nodes(self) -> tuple[HostPort, ...]:
        """Every Sentinel pod as host:port."""
        return self.names.sentinel_nodes(self.settings.sentinels)


def maxmemory(settings: SentinelK8sSettings) -> str:
    """``maxmemory``: the setting, else 75% of the container's memory limit (room for forks)."""
    if settings.maxmemory is not None:
        return settings.maxmemory
    limit = quantity_bytes(settings.resources.redis.memory_limit)
    return f"{max(1, limit * 3 // 4 // 1024**2)}mb"


def redis_spec(t: Topology, ordinal: int, password: str) -> RedisNodeSpec:
    """The spec of data pod ``ordinal``: a replica of ordinal 0 unless it is 0."""
    s = t.settings
    return RedisNodeSpec(
        port=REDIS_PORT,
        dir=DATA_DIR,
        password=password,
        bind=BIND_ALL,
        replicaof=t.data_nodes[0] if ordinal else None,
        min_replicas_to_write=s.effective_min_replicas,
        min_replicas_max_lag=s.min_replicas_max_lag,
        announce_host=t.data_nodes[ordinal].host,
        tls=t.tls_files,
        appendonly=True,
        maxmemory=maxmemory(s),
        maxmemory_policy=s.maxmemory_policy,
    )


def sentinel_spec(t: Topology, ordinal: int, password: str, sentinel_password: str) -> SentinelSpec:
    """The spec of Sentinel pod ``ordinal``, monitoring data pod 0 at first."""
    s = t.settings
    return SentinelSpec(
        port=SENTINEL_PORT,
        dir=DATA_DIR,
        master_name=s.master_name,
        master=t.data_nodes[0],
        quorum=s.quorum,
        auth_pass=password,
        password=sentinel_password,
        timings=SentinelTimings(s.down_after_ms, s.failover_timeout_ms, s.parallel_syncs),
        bind=BIND_ALL,
        announce_host=t.sentinel_nodes[ordinal].host,
        resolve_hostnames=True,
        announce_hostnames=True,
        tls=t.tls_files,
    )


def haproxy_spec(t: Topology) -> HaproxySpec:
    """HAProxy in front of every data pod, checking for ``role:master`` with the password."""
    return HaproxySpec(
        servers=t.data_nodes,
        bind=HostPort("0.0.0.0", REDIS_PORT),  # noqa: S104 (a pod listens on its own address)
        password_env="REDIS_PASSWORD",  # noqa: S106 (a variable name)
        min_replicas=t.settings.effective_min_replicas,
        tls_ca_file=f"{TLS_MOUNT}/{TLS_CA}" if t.tls else None,
        resolve_hostnames=True,
        stats_bind=HostPort("0.0.0.0", HAPROXY_STATS_PORT),  # noqa: S104
    )


def script_spec(t: Topology) -> scripts.ScriptSpec:
    """The scripts' view: data pods name themselves ``$POD_NAME.<headless Service>:6379``."""
    return scripts.ScriptSpec(
        master_name=t.settings.master_name,
        sentinels=t.sentinel_nodes,
        data_nodes=t.data_nodes,
        self_node=f"$POD_NAME.{t.names.service_host(t.names.redis_headless)}:{REDIS_PORT}",
        tls=t.tls,
        conf_dir=CONF_DIR,
    )


def config_files(t: Topology) -> dict[str, str]:
    """The ConfigMap's files: per-pod configs without passwords, haproxy.cfg, the scripts."""
    files = {}
    for i in range(t.settings.data_nodes):
        files[f"redis-{i}.conf"] = redis_conf_parts(redis_spec(t, i, _PLACEHOLDER)).public
    for i in range(t.settings.sentinels):
        spec = sentinel_spec(t, i, _PLACEHOLDER, _PLACEHOLDER)
        files[f"sentinel-{i}.conf"] = sentinel_conf_parts(spec).public
    files[HAPROXY_CFG] = render_haproxy_cfg(haproxy_spec(t))
    shell = script_spec(t)
    files["init-redis.sh"] = scripts.init_redis(shell)
    files["start-redis.sh"] = scripts.start_redis(shell)
    files["init-sentinel.sh"] = scripts.init_sentinel(shell)
    files["probe.sh"] = scripts.probe(shell, REDIS_PORT, SENTINEL_PORT)
    return files


def auth_files(t: Topology, password: str, sentinel_password: str) -> dict[str, str]:
    """The Secret's keys: both passwords and the password lines of the configs.

    Those lines are the same for every pod of a kind (they hold only passwords).
    """
    return {
        REDIS_PASSWORD_KEY: password,
        SENTINEL_PASSWORD_KEY: sentinel_password,
        REDIS_AUTH_FILE: redis_conf_parts(redis_spec(t, 0, password)).secret,
        SENTINEL_AUTH_FILE: sentinel_conf_parts(
            sentinel_spec(t, 0, password, sentinel_password)
        ).secret,
    }
