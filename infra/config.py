"""Read the stack config, the only module that does, and validate it into a :class:`StackConfig`.

Flat keys: ``aragora-redis:backend``, ``environment``, ``name``, ``tls``,
``tags`` (object) and ``client`` (object); the backend's own keys are the
object ``aragora-redis:<backend>``, e.g. ``aragora-redis:aws``. Problems are
raised as one :class:`~infra.settings.StackConfigError` naming each key (first
those of the flat keys and ``client``, then those of the backend's section,
which needs a valid environment), before any resource is declared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, ValidationError

from .backends import BACKENDS
from .settings import (
    NAMESPACE,
    ClientSettings,
    Problem,
    StackConfig,
    StackConfigError,
    StackSettings,
    config_key,
    problems_of,
)

M = TypeVar("M", bound=BaseModel)
FLAT_KEYS = ("backend", "environment", "name", "tls")
OBJECT_KEYS = ("tags", "client")


def load() -> StackConfig:
    """The current stack's config, validated."""
    config = pulumi.Config(NAMESPACE)
    raw = {key: value for key in (*FLAT_KEYS, *OBJECT_KEYS) if (value := config.get(key))}
    backend = raw.get("backend")
    if backend is not None and backend in BACKENDS and (section := config.get(backend)):
        raw[backend] = section
    return parse(raw, pulumi.get_stack())


def parse(raw: Mapping[str, str], stack_name: str) -> StackConfig:
    """Validate raw config values (keys without the namespace, values as Pulumi stores them).

    Object keys hold JSON, as Pulumi passes structured config to programs.
    """
    problems: list[Problem] = []
    objects = {}
    for key in {*OBJECT_KEYS, *(k for k in raw if k in BACKENDS)}:
        objects[key] = _object(raw.get(key), key, problems)
    flat = {k: raw[k] for k in FLAT_KEYS if k in raw}
    stack = _validate(StackSettings, {**flat, "tags": objects["tags"]}, problems)
    client = _validate(ClientSettings, objects["client"], problems, "client")
    if problems or stack is None or client is None:
        raise StackConfigError(problems)
    backend = BACKENDS[stack.backend]
    section = objects.get(stack.backend, {})
    settings = _validate(
        backend.settings_model, section, problems, stack.backend, context={"stack": stack}
    )
    if problems or settings is None:
        raise StackConfigError(problems)
    return StackConfig(stack, stack_name, client, settings)


def _object(text: str | None, key: str, problems: list[Problem]) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if not isinstance(value, dict):
        problems.append(Problem(config_key(key), value, "an object (a YAML mapping of keys)"))
        return {}
    return value


def _validate(
    model: type[M],
    data: Mapping[str, Any],
    problems: list[Problem],
    *prefix: str,
    context: dict[str, Any] | None = None,
) -> M | None:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(problems_of(exc, *prefix))
    except StackConfigError as exc:
        problems.extend(exc.problems)
    return None
