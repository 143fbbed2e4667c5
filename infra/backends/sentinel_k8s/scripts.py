"""The shell scripts of the Sentinel topology's pods (POSIX ``sh``; rendered, I/O-free).

They run in the official ``redis`` image with ``redis-cli``, ``sed``, ``awk``,
``grep`` and ``timeout``. Passwords reach them only as the environment
variables ``REDIS_PASSWORD`` and ``SENTINEL_PASSWORD`` (from the Secret) and
reach ``redis-cli`` as ``REDISCLI_AUTH``, never on a command line.

Before a data node starts, and before a Sentinel's config is written, the
script asks the Sentinels for the current master (``SENTINEL
get-master-addr-by-name``, the answer most of them give), then the other data
nodes (``ROLE``); only when no one knows a master does the rendered layout
stand (ordinal 0 the master). So a restarted pod never makes itself a second
master.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from aragora_redis import HostPort

from .names import AUTH_MOUNT, CONF_DIR, CONFIG_MOUNT, DATA_DIR, TLS_CA, TLS_MOUNT

#: Seconds a redis-cli call may take before the script gives up on that node.
CLI_TIMEOUT_S = 3


@dataclass(frozen=True)
class ScriptSpec:
    """What the scripts need: the nodes, the master name, TLS, and how a pod names itself.

    ``self_node`` is the pod's own ``host:port`` as the others know it, a shell
    word evaluated at run time (e.g. ``$POD_NAME.<service>:6379``).
    """

    master_name: str
    sentinels: tuple[HostPort, ...]
    data_nodes: tuple[HostPort, ...]
    self_node: str
    tls: bool
    config_dir: str = CONFIG_MOUNT
    auth_dir: str = AUTH_MOUNT
    conf_dir: str = CONF_DIR
    sentinel_dir: str = DATA_DIR
    ca_file: str = f"{TLS_MOUNT}/{TLS_CA}"


def _prelude(spec: ScriptSpec) -> str:
    tls_args = f"--tls --cacert {shlex.quote(spec.ca_file)}" if spec.tls else ""
    sentinels = " ".join(s.render() for s in spec.sentinels)
    nodes = " ".join(n.render() for n in spec.data_nodes)
    # The header names this module's former path on purpose: the scripts are in the
    # deployed ConfigMaps and their checksum in the pod templates, so new text would
    # roll every Redis and Sentinel pod of every stack for a comment.
    return f"""#!/bin/sh
# rendered by infra/backends/sentinel_k8s_scripts.py; edit the renderer, not this file
set -eu
MASTER_NAME={shlex.quote(spec.master_name)}
SENTINELS={shlex.quote(sentinels)}
DATA_NODES={shlex.quote(nodes)}
TLS_ARGS={shlex.quote(tls_args)}
SELF="{spec.self_node}"

# cli PASSWORD HOST:PORT ARGS...: one command, its reply on stdout;
# fails if the node does not answer.
cli() {{
    auth=$1 node=$2
    shift 2
    # TLS_ARGS is split into words on purpose.
    REDISCLI_AUTH=$auth timeout {CLI_TIMEOUT_S} \\
        redis-cli $TLS_ARGS -h "${{node%:*}}" -p "${{node##*:}}" "$@" 2>/dev/null
}}

# find_master: "HOST PORT" of the current master, or nothing when no one knows one.
# The Sentinels vote: the address most of those that answer give (a Sentinel that
# just restarted may still name the master it was rendered with).
find_master() {{
    answers=""
    for sentinel in $SENTINELS; do
        reply=$(cli "${{SENTINEL_PASSWORD:-}}" "$sentinel" \\
            SENTINEL get-master-addr-by-name "$MASTER_NAME") || continue
        host=$(printf '%s\\n' "$reply" | sed -n 1p)
        port=$(printf '%s\\n' "$reply" | sed -n 2p)
        case $port in ''|*[!0-9]*) continue ;; esac
        answers="$answers$host $port
"
    done
    if [ -n "$answers" ]; then
        printf '%s' "$answers" | sort | uniq -c | sort -k1,1nr -s | sed -n 1p \\
            | awk '{{ print $2, $3 }}'
        return 0
    fi
    for node in $DATA_NODES; do
        [ "$node" = "$SELF" ] && continue
        role=$(cli "${{REDIS_PASSWORD:-}}" "$node" ROLE | sed -n 1p) || continue
        if [ "$role" = master ]; then
            echo "${{node%:*}} ${{node##*:}}"
            return 0
        fi
    done
    return 0
}}
"""


def init_redis(spec: ScriptSpec) -> str:
    """Init container of a data pod: the writable ``redis.conf`` = ConfigMap part + Secret part."""
    return (
        _prelude(spec)
        + f"""
ordinal=${{POD_NAME##*-}}
cat "{spec.config_dir}/redis-$ordinal.conf" "{spec.auth_dir}/redis-auth.conf" \\
    > "{spec.conf_dir}/redis.conf"
"""
    )


def start_redis(spec: ScriptSpec) -> str:
    """Main container of a data pod: follow the known master, else keep the file; exec Redis."""
    return (
        _prelude(spec)
        + f"""
conf="{spec.conf_dir}/redis.conf"
master=$(find_master)
if [ -n "$master" ]; then
    set -- $master
    grep -v -e '^replicaof ' -e '^slaveof ' "$conf" > "$conf.new" || true
    if [ "$1:$2" = "$SELF" ]; then
        echo "start: the sentinels or nodes name this pod the master" >&2
    else
        echo "start: replica of the current master $1:$2" >&2
        echo "replicaof $1 $2" >> "$conf.new"
    fi
    mv "$conf.new" "$conf"
else
    echo "start: no sentinel or node knows a master; keeping the rendered role" >&2
fi
exec redis-server "$conf"
"""
    )


def init_sentinel(spec: ScriptSpec) -> str:
    """Init container of a Sentinel pod: write its config, monitoring the current master."""
    return (
        _prelude(spec)
        + f"""
ordinal=${{POD_NAME##*-}}
conf="{spec.sentinel_dir}/sentinel.conf"
cat "{spec.config_dir}/sentinel-$ordinal.conf" "{spec.auth_dir}/sentinel-auth.conf" > "$conf.new"
master=$(find_master)
if [ -n "$master" ]; then
    set -- $master
    echo "init: monitoring the current master $1:$2" >&2
    awk -v host="$1" -v port="$2" \\
        '$1 == "sentinel" && $2 == "monitor" {{ $4 = host; $5 = port }} {{ print }}' \\
        "$conf.new" > "$conf"
    rm "$conf.new"
else
    echo "init: no sentinel or node knows a master; monitoring the rendered one" >&2
    mv "$conf.new" "$conf"
fi
"""
    )


def probe(spec: ScriptSpec, redis_port: int, sentinel_port: int) -> str:
    """Readiness and liveness: ``probe.sh redis-ready|redis-alive|sentinel``."""
    return (
        _prelude(spec)
        + f"""
here=127.0.0.1
case ${{1:-}} in
redis-alive)
    reply=$(cli "$REDIS_PASSWORD" "$here:{redis_port}" PING) || exit 1
    case $reply in PONG|LOADING*|MASTERDOWN*) exit 0 ;; esac
    exit 1 ;;
redis-ready)
    # A master is ready; a replica once its link to the master is up.
    info=$(cli "$REDIS_PASSWORD" "$here:{redis_port}" INFO replication) || exit 1
    printf '%s\\n' "$info" | grep -q '^role:master' && exit 0
    printf '%s\\n' "$info" | grep -q '^master_link_status:up' && exit 0
    exit 1 ;;
sentinel)
    reply=$(cli "$SENTINEL_PASSWORD" "$here:{sentinel_port}" PING) || exit 1
    [ "$reply" = PONG ] ;;
*)
    echo "usage: probe.sh redis-alive|redis-ready|sentinel" >&2
    exit 2 ;;
esac
"""
    )
