"""Connections to the master of a Sentinel group: ``MasterConnection`` and its asyncio twin.

What they add to redis-py's Sentinel-managed connections (see :mod:`aragora_redis._follow`):

- every (re)connect asks for the master again: redis-py 8.1 reconnects a dropped
  connection inside ``send_packed_command`` through ``connect_check_health``,
  which skips Sentinel and dials the old address, so a naive client keeps
  writing to a demoted master;
- the address comes from the newest +switch-master heard by a watcher when there
  is one, else from Sentinel, and a fresh connection checks ROLE and follows a
  replica to its master;
- a connection made before the last switch is dropped before its next command;
- commands wait while Sentinel promotes a replica (the write gate);
- a "not the primary" reply (:func:`aragora_redis._moved.primary_moved`) drops the
  connection and raises PrimaryMoved, a ConnectionError, so redis-py's retry
  reconnects (and asks again); a lost reply of an at-most-once write raises
  OutcomeUnknown, which is not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any, cast

from redis.asyncio.connection import SSLConnection as AsyncSSLConnection
from redis.asyncio.sentinel import SentinelManagedConnection as AsyncSentinelManagedConnection
from redis.connection import SSLConnection
from redis.exceptions import ConnectionError, RedisError, ResponseError
from redis.sentinel import SentinelManagedConnection

from . import _metrics
from ._follow import MAX_HOPS, FailoverState, Interruptible, Role, parse_role
from ._moved import Moved, OutcomeUnknown, PrimaryMoved, primary_moved, reply_lost
from .endpoint_conn import AsyncIdleCheck, IdleCheck


def _moved(host: str | None, port: int | None, moved: Moved) -> PrimaryMoved:
    _metrics.primary_moved(moved.code, "sentinel", host, port)
    return PrimaryMoved(f"{host}:{port} (asking Sentinel again)", moved)


def _deposed(addr: tuple[str, int]) -> ConnectionError:
    return ConnectionError(
        f"{addr[0]}:{addr[1]} was replaced by Sentinel but still claims to be master; waiting"
    )


def _lost(addr: tuple[str, int]) -> ConnectionError:
    return ConnectionError(f"no master found following replicas from {addr[0]}:{addr[1]}")


class _FailoverBound:
    """What both twins do alike, without I/O: register, tell master-bound, read "moved"."""

    connection_pool: Any
    host: Any
    port: Any

    def __init__(self, **kwargs: Any) -> None:
        self.failover: FailoverState | None = kwargs.pop("failover_state", None)
        self._generation = -1
        super().__init__(**kwargs)
        if self.failover is not None:
            self.failover.register(cast(Interruptible, self))

    def _master_bound(self) -> bool:
        return bool(self.connection_pool.is_master)

    def _moved_by(self, exc: RedisError) -> PrimaryMoved | None:
        """The error to raise (after disconnecting) when ``exc`` says the master moved."""
        moved = primary_moved(exc) if self._master_bound() else None
        if moved is None:
            return None
        if self.failover is not None and self.host is not None and moved.elsewhere:
            self.failover.forget_hint((self.host, int(self.port)))
        return _moved(self.host, self.port, moved)


class MasterConnection(_FailoverBound, IdleCheck, SentinelManagedConnection):
    """A connection to the current master of a Sentinel group (sync)."""

    def interrupt(self) -> None:
        """Shut the socket from another thread: a read blocked on a frozen master fails now."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _connect_retry(self) -> None:
        if self._sock or not self._master_bound():
            return super()._connect_retry()  # type: ignore[no-any-return]
        return self.connect_check_health(
            check_health=self.connection_pool.check_connection, retry_socket_connect=False
        )

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        """Connect to the master: watcher's hint or Sentinel's answer, then follow ROLE."""
        if self._sock or not self._master_bound():
            super().connect_check_health(
                check_health=check_health, retry_socket_connect=retry_socket_connect
            )
            return
        state = self.failover
        addr = (state.hint if state else None) or self.connection_pool.get_master_address()
        for _ in range(MAX_HOPS):
            self.host, self.port = addr
            self._generation = state.generation if state else 0
            try:
                super().connect_check_health(
                    check_health=check_health, retry_socket_connect=retry_socket_connect
                )
            except ConnectionError:
                if state is not None:
                    state.forget_hint(addr)
                raise
            role = self._ask_role()
            if role.role != "slave" or role.master_addr is None:
                if state is not None and state.is_deposed(addr) and role.role == "master":
                    super().disconnect()
                    raise _deposed(addr)
                # redis-py's pool keeps only connections to the address it last got from
                # Sentinel; record where we are, or every release would drop the connection.
                self.connection_pool.master_address = addr
                return
            if state is not None:
                state.demoted(addr)
            super().disconnect()
            addr = role.master_addr
        raise _lost(addr)

    def _ask_role(self) -> Role:
        try:
            self.send_command("ROLE", check_health=False)
            return parse_role(SentinelManagedConnection.read_response(self))
        except ResponseError:  # e.g. an ACL user without ROLE: trust Sentinel
            return Role("unknown")

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Wait out a promotion, drop a connection older than the last switch, then send."""
        state = self.failover
        if state is not None and self._master_bound():
            state.wait_gate()
            if self._sock and self._generation != state.generation:
                super().disconnect()
        if self._closed_for_at_most_once():
            super().disconnect()
        super().send_packed_command(command, check_health=check_health)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; on a "master moved" error disconnect and raise ConnectionError."""
        try:
            return super().read_response(*args, **kwargs)
        except RedisError as exc:
            if (moved := self._moved_by(exc)) is not None:
                super().disconnect()
                raise moved from exc
            if reply_lost(exc):
                raise OutcomeUnknown(f"{self.host}:{self.port}: reply lost: {exc}") from exc
            raise


class MasterSSLConnection(MasterConnection, SSLConnection):
    """:class:`MasterConnection` over TLS."""


class AsyncMasterConnection(_FailoverBound, AsyncIdleCheck, AsyncSentinelManagedConnection):
    """The asyncio twin of :class:`MasterConnection`."""

    def interrupt(self) -> None:
        """Abort the transport (called on the event loop by the asyncio watcher)."""
        writer = self._writer
        if writer is not None:
            writer.transport.abort()

    async def _connect_retry(self) -> None:
        if self.is_connected or not self._master_bound():
            return await super()._connect_retry()  # type: ignore[no-any-return]
        return await self.connect_check_health(
            check_health=self.connection_pool.check_connection, retry_socket_connect=False
        )

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        """Connect to the master: watcher's hint or Sentinel's answer, then follow ROLE."""
        if self.is_connected or not self._master_bound():
            await super().connect_check_health(
                check_health=check_health, retry_socket_connect=retry_socket_connect
            )
            return
        state = self.failover
        addr = (state.hint if state else None) or await self.connection_pool.get_master_address()
        for _ in range(MAX_HOPS):
            self.host, self.port = addr
            self._generation = state.generation if state else 0
            try:
                await super().connect_check_health(
                    check_health=check_health, retry_socket_connect=retry_socket_connect
                )
            except ConnectionError:
                if state is not None:
                    state.forget_hint(addr)
                raise
            role = await self._ask_role()
            if role.role != "slave" or role.master_addr is None:
                if state is not None and state.is_deposed(addr) and role.role == "master":
                    await super().disconnect()
                    raise _deposed(addr)
                # redis-py's pool keeps only connections to the address it last got from
                # Sentinel; record where we are, or every release would drop the connection.
                self.connection_pool.master_address = addr
                return
            if state is not None:
                state.demoted(addr)
            await super().disconnect()
            addr = role.master_addr
        raise _lost(addr)

    async def _ask_role(self) -> Role:
        try:
            await self.send_command("ROLE", check_health=False)
            return parse_role(await AsyncSentinelManagedConnection.read_response(self))
        except ResponseError:
            return Role("unknown")

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Wait out a promotion, drop a connection older than the last switch, then send."""
        state = self.failover
        if state is not None and self._master_bound():
            while (left := state.hold_for(time.monotonic())) > 0:
                await asyncio.sleep(min(0.005, left))
            if self.is_connected and self._generation != state.generation:
                await super().disconnect()
        if self._closed_for_at_most_once():
            await super().disconnect()
        await super().send_packed_command(command, check_health=check_health)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; on a "master moved" error disconnect and raise ConnectionError."""
        try:
            return await super().read_response(*args, **kwargs)
        except RedisError as exc:
            if (moved := self._moved_by(exc)) is not None:
                await super().disconnect()
                raise moved from exc
            if reply_lost(exc):
                raise OutcomeUnknown(f"{self.host}:{self.port}: reply lost: {exc}") from exc
            raise


class AsyncMasterSSLConnection(AsyncMasterConnection, AsyncSSLConnection):
    """:class:`AsyncMasterConnection` over TLS."""
