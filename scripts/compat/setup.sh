#!/usr/bin/env bash
# The released Aragora in its own venv, .venv-aragora/, exactly as locked in
# scripts/compat/requirements.txt (every file checked against its hash).
# Its own venv because Aragora runs redis-py 7 and this project redis-py 8.
# A second run does nothing while the lock file is unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venv-aragora
lock=scripts/compat/requirements.txt
stamp=$venv/.synced
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
[[ -x .venv/bin/uv ]] || scripts/setup.sh
printf 'compat: installing %s into %s\n' "$(grep -m1 '^aragora==' "$lock" | cut -d' ' -f1)" "$venv" >&2
if [[ ! -x $venv/bin/python ]]; then
    .venv/bin/uv venv --quiet --python python3 "$venv"
fi
.venv/bin/uv pip sync --quiet --python "$venv/bin/python" --require-hashes "$lock"
printf '%s\n' "$want" >"$stamp"
