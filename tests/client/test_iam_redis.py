"""IAM-token login against real redis-server processes (standalone and cluster).

The server side of Memorystore's IAM auth is played by an ACL user whose only
password is the token the provider handed out; a rotation replaces it with the
next token (the old one removed), as an expired token stops working.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from redis.exceptions import AuthenticationError

from aragora_redis import RedisSettings, RedisUnavailable, connect_redis, connect_redis_async, iam
from aragora_redis.connection import AsyncClient, SyncClient
from aragora_redis.iam import GcpIamCredentialProvider
from aragora_redis.local import LocalStack

from .test_iam import LIFETIME, Clock, TokenSource


@dataclass
class IamUser:
    """An ACL user on every data node of ``stack``, logged in with the provider's tokens."""

    stack: LocalStack
    name: str
    clock: Clock
    source: TokenSource
    provider: GcpIamCredentialProvider

    @property
    def settings(self) -> RedisSettings:
        """The stack's settings, logging in with ``gcp-iam`` as this user."""
        return self.stack.settings.replace(password=None, username=self.name, auth="gcp-iam")

    def grant(self, token: str) -> None:
        """Make ``token`` the user's only password on every node (old ones removed)."""
        for node in self.stack.data_nodes:
            admin = self.stack.client(node.name)
            try:
                admin.execute_command(
                    "ACL", "SETUSER", self.name, "on", "resetpass", f">{token}",
                    "~*", "&*", "+@all",
                )  # fmt: skip
            finally:
                admin.close()

    def rotate(self) -> str:
        """Let the current token expire; grant the one the provider refreshes to. Returns it."""
        self.clock.advance(LIFETIME)
        token = self.provider.token()
        self.grant(token)
        return token

    def remove(self) -> None:
        """Delete the user from every node."""
        for node in self.stack.data_nodes:
            admin = self.stack.client(node.name)
            try:
                admin.execute_command("ACL", "DELUSER", self.name)
            finally:
                admin.close()


def _iam_user(stack: LocalStack) -> Iterator[IamUser]:
    clock = Clock()
    source = TokenSource(clock)
    name = f"sa-{uuid.uuid4().hex[:8]}"
    provider = GcpIamCredentialProvider(source, username=name, clock=clock)
    user = IamUser(stack, name, clock, source, provider)
    user.grant(provider.token())
    iam.use(provider, name)
    try:
        yield user
    finally:
        iam.use(None, name)
        user.remove()


@pytest.fixture
def standalone_user(standalone: LocalStack) -> Iterator[IamUser]:
    yield from _iam_user(standalone)


@pytest.fixture
def cluster_user(cluster: LocalStack) -> Iterator[IamUser]:
    yield from _iam_user(cluster)


def _round_trip(client: SyncClient, prefix: str) -> None:
    # Keys in many slots, so a cluster client logs in to every master.
    keys = [f"aragora:iam:{prefix}:{i}" for i in range(24)]
    for key in keys:
        client.set(key, key, ex=60)
    assert [client.get(key) for key in keys] == [key.encode() for key in keys]


async def _round_trip_async(client: AsyncClient, prefix: str) -> None:
    keys = [f"aragora:iam:{prefix}:{i}" for i in range(24)]
    for key in keys:
        await client.set(key, key, ex=60)
    assert [await client.get(key) for key in keys] == [key.encode() for key in keys]


def _refused(user: IamUser, token: str) -> None:
    node = user.stack.address(user.stack.data_nodes[0].name)
    plain = redis.Redis(host=node.host, port=node.port, username=user.name, password=token)
    try:
        with pytest.raises(AuthenticationError):
            plain.ping()
    finally:
        plain.close()


def test_standalone_logs_in_with_the_token_and_follows_its_rotation(
    standalone_user: IamUser,
) -> None:
    user = standalone_user
    first = connect_redis(user.settings)
    assert isinstance(first, redis.Redis)
    assert first.acl_whoami() == user.name
    _round_trip(first, "standalone")
    old = user.source.issued.tokens[-1]
    new = user.rotate()
    _refused(user, old)
    # A connection opened from now on must use the new token.
    first.connection_pool.disconnect()
    _round_trip(first, "standalone-rotated")
    second = connect_redis(user.settings)
    assert second.acl_whoami() == user.name
    assert user.source.issued.tokens == [old, new]
    first.close()
    second.close()


def test_cluster_logs_in_to_every_node_with_the_token_and_follows_its_rotation(
    cluster_user: IamUser,
) -> None:
    user = cluster_user
    client = connect_redis(user.settings)
    assert isinstance(client, redis.RedisCluster)
    _round_trip(client, "cluster")
    old = user.source.issued.tokens[-1]
    user.rotate()
    _refused(user, old)
    client.close()
    fresh = connect_redis(user.settings)
    _round_trip(fresh, "cluster-rotated")
    assert len(user.source.issued.tokens) == 2
    fresh.close()


def test_asyncio_clients_log_in_with_the_token(
    standalone_user: IamUser, cluster_user: IamUser
) -> None:
    async def run(user: IamUser, prefix: str) -> None:
        client = await connect_redis_async(user.settings)
        await _round_trip_async(client, prefix)
        await client.aclose()
        user.rotate()
        client = await connect_redis_async(user.settings)
        await _round_trip_async(client, f"{prefix}-rotated")
        await client.aclose()

    asyncio.run(run(standalone_user, "async-standalone"))
    asyncio.run(run(cluster_user, "async-cluster"))
    assert len(standalone_user.source.issued.tokens) == 2
    assert len(cluster_user.source.issued.tokens) == 2


def test_a_token_the_server_does_not_know_is_refused(standalone_user: IamUser) -> None:
    user = standalone_user
    user.grant("a-token-nobody-has")
    with pytest.raises(RedisUnavailable, match="invalid username-password") as caught:
        connect_redis(user.settings)
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert user.source.issued.tokens[-1] not in str(caught.value)
