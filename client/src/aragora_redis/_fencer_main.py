"""The fencing watcher: ``python -m aragora_redis._fencer_main <stack dir> | --env``.

``<stack dir>``: the local stack's watcher (its owner-only ``state.json``).
``--env``: a deployed stack's (the sentinel-k8s fencing Deployment): everything
comes from the ``ARAGORA_REDIS_*`` contract in the environment, as an
application reads it: ``MODE=sentinel``, ``SENTINEL_HOSTS``, ``SENTINEL_MASTER``,
``USERNAME``/``PASSWORD`` (the data nodes), ``SENTINEL_PASSWORD``, ``SSL``,
``SSL_CA_CERTS`` (a mounted CA file). ``ARAGORA_REDIS_FENCER_READY``, if set, is
the file that holds the number of sentinels heard. Nothing secret is printed.

A module outside :mod:`aragora_redis.local`, so that running it does not import
:mod:`aragora_redis.local.fencer` twice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from aragora_redis.errors import ConfigError
from aragora_redis.settings import RedisSettings

ENV_FLAG = "--env"
USAGE = f"usage: python -m aragora_redis._fencer_main <stack dir> | {ENV_FLAG}"
READY_VARIABLE = "ARAGORA_REDIS_FENCER_READY"


def env_source(env: Mapping[str, str]) -> tuple[RedisSettings, Path | None]:
    """The settings and ready file of ``--env`` mode; a ConfigError unless a Sentinel stack."""
    settings = RedisSettings.from_env(env)
    if settings.mode != "sentinel" or not settings.sentinel_hosts:
        raise ConfigError(
            "ARAGORA_REDIS_MODE", "the fencing watcher needs sentinel, with its sentinel hosts"
        )
    ready = env.get(READY_VARIABLE)
    return settings, Path(ready) if ready else None


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    """Run the watcher until SIGTERM or SIGINT."""
    from aragora_redis.local import fencer

    args = list(sys.argv[1:] if argv is None else argv)
    if args != [ENV_FLAG]:
        if len(args) != 1:
            raise SystemExit(USAGE)
        fencer.run(Path(args[0]), fencer.stop_on_signals())
        return
    settings, ready = env_source(os.environ if env is None else env)
    fencer.watch(settings, settings, ready, fencer.stop_on_signals())


if __name__ == "__main__":
    main()
