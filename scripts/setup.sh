#!/usr/bin/env bash
# One-time setup shared by every make target: system packages, then the
# virtualenv from uv.lock. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
# binary -> Debian package: Redis and Sentinel for the local stack and the tests,
# HAProxy for the stable master URL, promtool (package prometheus) for the alert rules.
declare -A NEED=([redis-server]=redis-server [redis-sentinel]=redis-sentinel [redis-cli]=redis-tools
                 [haproxy]=haproxy [promtool]=prometheus)
# nft and iptables-legacy for the drill's network faults (partitions between loopback
# addresses, NFQUEUE delays; Linux only). Debian puts them in /usr/sbin, which a
# non-root PATH may lack.
if [[ "$(uname -s)" == Linux ]]; then NEED[nft]=nftables; NEED[iptables-legacy]=iptables; fi
export PATH="$PATH:/usr/sbin:/sbin"

say() { printf 'setup: %s\n' "$*" >&2; }

python_ok() { command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; }
if ! python_ok; then
    say "Python 3.11+ is required as python3; install it (apt-get install python3 python3-venv, or brew install python@3.12)"
    exit 1
fi

missing=()
for bin in "${!NEED[@]}"; do
    command -v "$bin" >/dev/null || missing+=("${NEED[$bin]}")
done
if ((${#missing[@]})); then
    if [[ "$(uname -s)" == Darwin ]]; then
        say "missing ${missing[*]}: run 'brew install redis haproxy prometheus' and retry"; exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        say "missing ${missing[*]}: install redis-server, redis-sentinel and redis-cli (Redis 7+), haproxy and promtool with your package manager and retry"; exit 1
    fi
    SUDO=()
    if [[ $EUID -ne 0 ]]; then
        if sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
            say "missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' and retry"; exit 1
        fi
    fi
    say "installing ${missing[*]} with apt-get"
    # policy-rc.d exit 101: the packages must not start a system redis on 6379
    trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=.venv/.synced
want="$(cat uv.lock pyproject.toml client/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv"
    python3 -m venv .venv
fi
if [[ "$(.venv/bin/uv --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
    say "installing uv $UV_VERSION into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
say "syncing .venv from uv.lock"
UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --frozen --quiet
echo "$want" > "$stamp"
