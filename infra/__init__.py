"""The Pulumi program of aragora-redis: stack config -> one backend component -> outputs.

``__main__`` is the entry point Pulumi runs; :mod:`infra.config` is the only
module that reads stack config, :mod:`infra.backends` holds one component per
backend, and :mod:`infra.outputs` turns their :class:`~infra.endpoint.RedisEndpoint`
into the ``ARAGORA_REDIS_*`` outputs.
"""
