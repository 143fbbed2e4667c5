"""``python -m aragora_redis._fencer_main <stack dir>``: the local stack's fencing watcher.

A module outside :mod:`aragora_redis.local`, so that running it does not import
:mod:`aragora_redis.local.fencer` twice.
"""

from aragora_redis.local.fencer import main

if __name__ == "__main__":
    main()
