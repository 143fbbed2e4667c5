"""Typed, validated stack settings shared by every backend, and the error that names a config key.

Nothing here reads Pulumi config (that is :mod:`infra.config`); these models
validate what it read. Keys are camelCase under the ``aragora-redis`` namespace;
nested keys are spelled as ``pulumi config set --path`` takes them, e.g.
``aragora-redis:aws.subnetIds[0]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from aragora_redis import ConfigError, RedisSettings

NAMESPACE = "aragora-redis"
Environment = Literal["dev", "staging", "prod"]
#: Every backend name the project knows; :data:`infra.backends.BACKENDS` holds the implemented ones.
BackendName = Literal["aws", "gcp", "azure", "azure-managed", "sentinel-k8s"]


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()


def config_key(*path: str | int) -> str:
    """``aragora-redis:a.b[0]``: the key as ``pulumi config set --path`` spells it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return f"{NAMESPACE}:{out}"


@dataclass(frozen=True)
class Problem:
    """One invalid setting: the full config key, the value found and what is allowed."""

    key: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.key}: got {self.value!r}, expected {self.expected}"


class StackConfigError(pulumi.RunError):
    """The stack config is invalid; raised before any resource is declared.

    A :class:`pulumi.RunError`, so ``pulumi preview``/``up`` print the message
    without a traceback. No config key holds a secret, so values are shown as given.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid stack config ({len(self.problems)} problem(s)):\n{lines}")

    @property
    def keys(self) -> tuple[str, ...]:
        """The config keys at fault, in order."""
        return tuple(p.key for p in self.problems)


def fail(problems: Sequence[Problem]) -> None:
    """Raise :class:`StackConfigError` when there is any problem."""
    if problems:
        raise StackConfigError(problems)


def matching(pattern: str, expected: str) -> AfterValidator:
    """A string check whose error says what is allowed instead of echoing a regex."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError("format", expected)
        return value

    return AfterValidator(check)


class ConfigModel(BaseModel):
    """Base of every config section: frozen, camelCase keys, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in cls.config_keys())
            if unknown:
                raise PydanticCustomError(
                    "unknown_keys",
                    "only these keys: {known}",
                    {"known": ", ".join(sorted(cls.config_keys())), "unknown": unknown},
                )
        return data

    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        """The config keys of this section (camelCase)."""
        return tuple(f.alias or name for name, f in cls.model_fields.items())


def problems_of(error: ValidationError, *prefix: str) -> list[Problem]:
    """Pydantic's errors as :class:`Problem` s naming the config key under ``prefix``."""
    out = []
    for e in error.errors(include_url=False):
        # pydantic appends "[key]" to the location of a bad dict key
        loc = [p for p in e["loc"] if not (isinstance(p, str) and "[" in p)]
        expected = e["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
        value = MISSING if e["type"] == "missing" else e["input"]
        if e["type"] == "unknown_keys":
            value = e.get("ctx", {})["unknown"]
        if isinstance(value, tuple):
            value = list(value)  # shown as the YAML list it came from
        if e["type"] == "missing":
            expected = "a value (this key is required)"
        out.append(Problem(config_key(*prefix, *loc), value, expected))
    return out


class StackSettings(ConfigModel):
    """The flat keys every stack has (``aragora-redis:<key>``)."""

    backend: BackendName
    environment: Environment
    #: Base name of every resource; the ElastiCache replication group id, so 40 characters at most.
    name: str = ""
    #: TLS to Redis. Prod may not turn it off; backends may refuse it where auth needs TLS.
    tls: bool = True
    #: Extra tags/labels on every resource.
    tags: dict[str, str] = Field(default_factory=dict)

    NAME_PATTERN: ClassVar[str] = r"[a-z](?!.*--)[a-z0-9-]{0,38}[a-z0-9]"

    @model_validator(mode="after")
    def _policy(self) -> Self:
        problems = []
        if not re.fullmatch(self.NAME_PATTERN, self.name):
            problems.append(
                Problem(
                    config_key("name"),
                    self.name,
                    "2 to 40 lowercase letters, digits and single hyphens, starting with a letter"
                    " and not ending with a hyphen",
                )
            )
        if self.environment == "prod" and not self.tls:
            problems.append(Problem(config_key("tls"), self.tls, "true (prod stacks keep TLS on)"))
        fail(problems)
        return self

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("name") and data.get("environment"):
            return {**data, "name": f"aragora-{data['environment']}"}
        return data

    @property
    def protect(self) -> bool:
        """Whether stateful resources are protected from deletion (prod only)."""
        return self.environment == "prod"

    def resource_tags(self, stack: str) -> dict[str, str]:
        """The default tags, then ``tags`` from config."""
        return {
            "app": "aragora",
            "component": "redis",
            "environment": self.environment,
            "managed-by": "pulumi",
            "pulumi-stack": stack,
            **self.tags,
        }


class ClientSettings(ConfigModel):
    """``aragora-redis:client``: client tuning written into the outputs.

    Unset keys keep the client package's defaults; each value is checked by
    :class:`aragora_redis.RedisSettings` itself, so the rules live in one place.
    """

    socket_timeout: float | None = None
    socket_connect_timeout: float | None = None
    max_connections: int | None = None
    health_check_interval: int | None = None
    failure_threshold: int | None = None
    rate_limit_fail_open: bool | None = None
    cluster_read_from_replicas: bool | None = None
    cluster_skip_full_coverage: bool | None = None
    #: Session TTL per kind in seconds (``ARAGORA_SESSION_<KIND>_TTL``).
    session_ttls: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _checked_by_client(self) -> Self:
        problems = []
        for field, value in self.redis_settings_kwargs().items():
            if field == "session_ttls":
                continue
            problems += _client_check({field: value}, "client", to_camel(field), value=value)
        for kind, ttl in self.session_ttls.items():
            args = {"session_ttls": ((kind, ttl),)}
            problems += _client_check(args, "client", "sessionTtls", kind, value=ttl)
        fail(problems)
        return self

    def redis_settings_kwargs(self) -> dict[str, Any]:
        """The set keys as :class:`aragora_redis.RedisSettings` keyword arguments."""
        out: dict[str, Any] = {
            name: value for name, value in self if value is not None and name != "session_ttls"
        }
        if self.session_ttls:
            out["session_ttls"] = tuple(sorted(self.session_ttls.items()))
        return out


def _client_check(kwargs: dict[str, Any], *path: str, value: Any) -> list[Problem]:
    try:
        RedisSettings(**kwargs)
    except ConfigError as exc:
        message = str(exc).removeprefix(f"{exc.variable}: ")
        expected = message.split("expected ", 1)[-1]
        return [Problem(config_key(*path), value, f"{expected} (as {exc.variable})")]
    return []


@dataclass(frozen=True)
class StackConfig:
    """A whole stack's validated config: flat keys, client tuning, the backend's section."""

    stack: StackSettings
    #: The Pulumi stack name (``pulumi stack select``), e.g. ``prod-aws``.
    stack_name: str
    client: ClientSettings
    #: The ``aragora-redis:<backend>`` section, an instance of the backend's model.
    backend_settings: ConfigModel

    @property
    def tags(self) -> dict[str, str]:
        """Tags for every resource of the stack."""
        return self.stack.resource_tags(self.stack_name)
