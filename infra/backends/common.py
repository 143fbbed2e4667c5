"""What every backend does alike: settings and component bases, args, passwords, endpoints, secrets.

Imported by the backend packages, never importing one of them: a backend's
folder shares with another only through this module (and :mod:`infra.settings`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

import pulumi
import pulumi_random as random
from pydantic import ValidationInfo, model_validator

from aragora_redis import HostPort

from ..endpoint import RedisEndpoint
from ..settings import (
    ClientSettings,
    ConfigModel,
    Environment,
    Problem,
    StackConfig,
    StackSettings,
    config_key,
    fail,
)

MaxmemoryPolicy = Literal[
    "volatile-ttl",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
]


class BackendSettings(ConfigModel):
    """A backend's config section (``aragora-redis:<SECTION>``), validated with the stack.

    Validation gets ``context={'stack': StackSettings}``; :meth:`stack_of` reads it
    and :meth:`problem` names a key of the section. Every section is validated the
    same way: the keys it leaves out get :meth:`environment_defaults`; once its
    fields are valid, ``TLS_REQUIRED`` (when set) and :meth:`check` collect every
    broken rule, and all of them are raised together as one
    :class:`~infra.settings.StackConfigError`.
    """

    SECTION: ClassVar[str]
    #: Why the backend refuses ``aragora-redis:tls`` off (checked first); None: it does not.
    TLS_REQUIRED: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _environment_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {**cls.environment_defaults(data, cls.stack_of(info).environment), **data}

    @classmethod
    def environment_defaults(
        cls, data: Mapping[str, Any], environment: Environment
    ) -> Mapping[str, Any]:
        """The values of the keys ``data`` leaves out, in ``environment`` (none here)."""
        return {}

    @model_validator(mode="after")
    def _policy(self, info: ValidationInfo) -> Self:
        stack = self.stack_of(info)
        problems = [] if self.TLS_REQUIRED is None else tls_required(stack, self.TLS_REQUIRED)
        self.check(stack, problems)
        fail(problems)
        return self

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """Add a :class:`Problem` to ``problems`` for every rule of the section ``self`` breaks."""

    @classmethod
    def stack_of(cls, info: ValidationInfo) -> StackSettings:
        """The :class:`StackSettings` passed as validation context."""
        stack = (info.context or {}).get("stack")
        if not isinstance(stack, StackSettings):
            raise TypeError(f"{cls.__name__} is validated with context={{'stack': StackSettings}}")
        return stack

    @classmethod
    def problem(cls, key: str, value: Any, expected: str) -> Problem:
        """A :class:`Problem` with ``key`` in this section."""
        return Problem(config_key(cls.SECTION, key), value, expected)

    @classmethod
    def reporter(cls, problems: list[Problem]) -> Callable[[str, Any, str], None]:
        """``bad(key, value, expected)``: add a :meth:`problem` to ``problems``."""
        return lambda key, value, expected: problems.append(cls.problem(key, value, expected))


def tls_required(stack: StackSettings, why: str) -> list[Problem]:
    """The problem of a stack with ``aragora-redis:tls`` off on a backend that needs TLS."""
    return [] if stack.tls else [Problem(config_key("tls"), stack.tls, f"true ({why})")]


@dataclass(frozen=True)
class EnvironmentPolicy:
    """Defaults and minimums of one environment (a backend's subclass adds its own)."""

    defaults: Mapping[str, Any]
    min_replicas: int


S = TypeVar("S", bound=ConfigModel)


@dataclass(frozen=True)
class CloudArgs(Generic[S]):
    """What a cloud backend's component builds from.

    ``settings`` is the validated section (environment defaults filled in);
    ``protect`` guards the stateful resources (prod); ``client`` is rendered into
    the published secret when one is configured; ``tags`` go on every resource
    that takes tags (labels, on GCP).
    """

    settings: S
    protect: bool
    client: ClientSettings
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: StackConfig, settings: S, **extra: Any) -> Self:
        """The args of ``config``'s stack: its protect, client tuning and tags."""
        return cls(settings, config.stack.protect, config.client, config.tags, **extra)


#: A component's outputs, as :meth:`pulumi.ComponentResource.register_outputs` takes them.
Outputs = Mapping[str, Any]
A = TypeVar("A")


class BackendComponent(pulumi.ComponentResource, Generic[A]):
    """A backend's component (type token ``TYPE``), built from its args ``A``.

    Its ``_declare`` declares every resource inside it, sets :attr:`endpoint`
    and returns the outputs the component registers.
    """

    TYPE: ClassVar[str]
    #: The shared description of the Redis it declared (mode, hosts, port, TLS, credentials).
    endpoint: RedisEndpoint

    def __init__(self, name: str, args: A, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.register_outputs(self._declare(name, args))

    def _declare(self, name: str, args: A) -> Outputs:
        raise NotImplementedError


def warn_unnotified(config: StackConfig, section: str, key: str, value: object, what: str) -> None:
    """Warn when a prod stack's alerts (``what``) have no one to notify (``key`` unset)."""
    if config.stack.environment == "prod" and not value:
        pulumi.log.warn(f"{config_key(section, key)} is not set: prod {what} notify no one")


def random_password(
    name: str, parent: pulumi.Resource, *, length: int, specials: str
) -> pulumi.Output[str]:
    """A generated password (every character class at least once), as a secret output."""
    password = random.RandomPassword(
        name,
        length=length,
        special=True,
        override_special=specials,
        min_lower=1,
        min_upper=1,
        min_numeric=1,
        min_special=1,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(password.result)


def primary_or_cluster(
    host: pulumi.Output[str],
    port: pulumi.Output[int],
    password: pulumi.Output[str],
    *,
    cluster: bool,
    username: str | None = None,
) -> RedisEndpoint:
    """A TLS endpoint: ``standalone`` on a primary endpoint, or ``cluster`` seeded by it."""
    if not cluster:
        return RedisEndpoint(
            "standalone", host, port, tls=True, username=username, password=password
        )
    nodes = pulumi.Output.all(host, port).apply(lambda v: [HostPort(v[0], v[1])])
    return RedisEndpoint(
        "cluster", host, port, tls=True, username=username, password=password, cluster_nodes=nodes
    )


def env_json(env: pulumi.Output[dict[str, str]]) -> pulumi.Output[str]:
    """The ARAGORA_REDIS_* map as sorted JSON, a secret output."""
    return pulumi.Output.secret(env.apply(lambda e: json.dumps(e, sort_keys=True)))


R = TypeVar("R", bound=pulumi.Resource)


def publish_json(
    parent: pulumi.Resource,
    protect: bool,
    env: pulumi.Output[dict[str, str]],
    secret: Callable[[pulumi.ResourceOptions], R],
    version: Callable[[R, pulumi.Output[str], pulumi.ResourceOptions], object],
) -> R:
    """Declare ``secret`` (protected like the store) and a ``version`` holding ``env`` as JSON.

    The version is never protected: new content replaces it, which protect would refuse.
    """
    declared = secret(pulumi.ResourceOptions(parent=parent, protect=protect))
    version(declared, env_json(env), pulumi.ResourceOptions(parent=declared, protect=False))
    return declared
