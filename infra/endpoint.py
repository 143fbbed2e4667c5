"""The one shape every backend returns: where Redis answers and how to log in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from aragora_redis import HostPort
from aragora_redis.settings import Auth, Mode


@dataclass(frozen=True)
class RedisEndpoint:
    """A deployed Redis as the client contract needs it, whatever the backend.

    ``host``/``port`` are the URL target: the primary endpoint (standalone), a
    stable master address (sentinel) or a seed node (cluster). ``password`` and
    ``sentinel_password`` must be secret outputs. ``ca_pem`` is the CA that
    signed the server certificates when it is not in the system store (cloud
    backends leave it ``None``). ``auth`` is how clients log in: ``gcp-iam``
    endpoints have no password, clients send an IAM access token instead.
    ``sharded``: a standalone endpoint that shards keys behind one address (a
    proxy that reports no cluster mode), emitted as ``ARAGORA_REDIS_SHARDED``.
    """

    mode: Mode
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    tls: bool
    username: str | None = None
    password: pulumi.Output[str] | None = None
    cluster_nodes: pulumi.Output[Sequence[HostPort]] | None = None
    sentinel_hosts: pulumi.Output[Sequence[HostPort]] | None = None
    sentinel_master: str | None = None
    sentinel_password: pulumi.Output[str] | None = None
    ca_pem: pulumi.Output[str] | None = None
    auth: Auth = "password"
    sharded: bool = False
