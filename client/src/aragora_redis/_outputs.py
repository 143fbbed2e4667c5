"""I/O-free: stack outputs (``pulumi stack output --json --show-secrets``) to ARAGORA_REDIS_* files.

:func:`parse_outputs` reads the JSON document and refuses what is not the
outputs of an aragora-redis stack (not JSON, keys missing, values of the wrong
type, secrets masked as ``[secret]``). :func:`contract_env` validates the
variables with :meth:`RedisSettings.from_env` and renders them again with
:meth:`RedisSettings.to_env`, the one definition of the contract. The renderers
turn that map into a dotenv file, a Kubernetes Secret manifest or JSON.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from . import _parse as p
from .errors import ConfigError
from .settings import URL_VARIABLES, RedisSettings

#: The output holding every variable at once (infra/outputs.py).
ENV_MAP_KEY = "aragoraRedisEnv"
#: The output holding the private CA bundle, when the backend has one.
CA_PEM_KEY = "aragoraRedisCaPem"
#: How ``pulumi stack output --json`` prints a secret without ``--show-secrets``.
MASKED = "[secret]"
CA_VARIABLE = "ARAGORA_REDIS_SSL_CA_CERTS"
#: Every stack renders these; without them the document is not an aragora-redis stack's.
REQUIRED = ("ARAGORA_REDIS_MODE", "ARAGORA_REDIS_URL")
#: The key of the CA bundle inside the Kubernetes Secret, and where it is mounted by default.
K8S_CA_KEY = "ca.pem"
K8S_CA_MOUNT_PATH = "/etc/aragora-redis/ca.pem"
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"

Encoding = Literal["stringData", "data"]
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SHOW_SECRETS = "run `pulumi stack output --json --show-secrets`"


@dataclass(frozen=True)
class StackOutputs:
    """The contract variables found in a stack's outputs, and its CA bundle if any."""

    env: dict[str, str]
    ca_pem: str | None


def _is_contract_name(name: str) -> bool:
    return name.startswith("ARAGORA_") or name == "REDIS_URL"


def _type_name(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _masked(name: str) -> ConfigError:
    return ConfigError(
        name,
        f"is {MASKED!r}: the outputs were read without --show-secrets; {_SHOW_SECRETS}",
    )


def _strings(source: str, found: Mapping[str, object]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in found.items():
        if value == MASKED:
            raise _masked(name)
        if not isinstance(value, str):
            raise ConfigError(name, f"in {source} is {_type_name(value)}, expected a string")
        env[name] = value
    return env


def parse_outputs(text: str, source: str) -> StackOutputs:
    """The contract in ``text`` (the JSON of ``pulumi stack output --json --show-secrets``).

    ``source`` names where the text came from, for the error messages. The
    ``aragoraRedisEnv`` map is used when present, else the per-variable outputs.
    Raises :class:`ConfigError` naming the output at fault.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            source, f"is not JSON ({exc.msg} at line {exc.lineno}); expected {_SHOW_SECRETS}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            source, f"holds {_type_name(document)}, expected the JSON object of stack outputs"
        )
    if document.get(ENV_MAP_KEY) == MASKED:
        raise _masked(ENV_MAP_KEY)
    raw_map = document.get(ENV_MAP_KEY)
    if raw_map is None:
        env = _strings(source, {k: v for k, v in document.items() if _is_contract_name(k)})
    elif isinstance(raw_map, dict):
        env = _strings(source, raw_map)
    else:
        raise ConfigError(
            ENV_MAP_KEY, f"in {source} is {_type_name(raw_map)}, expected an object of strings"
        )
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise ConfigError(
            missing[0],
            f"missing from {source}: expected the outputs of an aragora-redis stack "
            f"({ENV_MAP_KEY} or one output per variable)",
        )
    ca_pem = document.get(CA_PEM_KEY)
    if ca_pem == MASKED:
        raise _masked(CA_PEM_KEY)
    if ca_pem is not None and not (isinstance(ca_pem, str) and PEM_BEGIN in ca_pem):
        shown = "a string without a certificate" if isinstance(ca_pem, str) else _type_name(ca_pem)
        raise ConfigError(CA_PEM_KEY, f"in {source} is {shown}, expected a PEM CA bundle")
    return StackOutputs(env, ca_pem or None)


def with_ca_file(outputs: StackOutputs, pem: str) -> StackOutputs:
    """``outputs`` carrying ``pem``, the bundle its ARAGORA_REDIS_SSL_CA_CERTS file holds."""
    if PEM_BEGIN not in pem:
        path = outputs.env.get(CA_VARIABLE)
        raise ConfigError(CA_VARIABLE, f"file {path!r} holds no PEM certificate")
    return replace(outputs, ca_pem=pem)


def contract_env(
    outputs: StackOutputs, ca_path: str | None
) -> tuple[RedisSettings, dict[str, str]]:
    """Validate the variables and render the full contract; ``ca_path`` replaces the CA path.

    With a CA bundle in the outputs, a path the stack may have set is dropped
    before parsing (the bundle is written elsewhere, also from the URLs'
    ``ssl_ca_certs``) and ``ca_path`` is set in the rendered map and TLS URLs;
    it need not exist here (a mount path inside a pod).
    """
    env = dict(outputs.env)
    if outputs.ca_pem is not None:
        env.pop(CA_VARIABLE, None)
        for name in URL_VARIABLES:
            if env.get(name, "").strip():
                env[name] = p.url_with_ca(name, env[name], None)
    settings = RedisSettings.from_env(env)
    return settings, _with_ca_path(settings.to_env(), ca_path)


def masked_env(settings: RedisSettings, ca_path: str | None) -> dict[str, str]:
    """The same map with every credential masked, for printing."""
    return _with_ca_path(settings.to_env(mask_secrets=True), ca_path)


def _with_ca_path(env: dict[str, str], ca_path: str | None) -> dict[str, str]:
    """``env`` naming ``ca_path`` as the CA bundle, in its variable and its TLS URLs."""
    if ca_path is not None:
        env[CA_VARIABLE] = ca_path
        for name in URL_VARIABLES:
            if name in env:
                # A masked URL parses too: its password is the mask.
                env[name] = p.url_with_ca(name, env[name], ca_path)
    return dict(sorted(env.items()))


def json_text(env: Mapping[str, str]) -> str:
    """The map as a JSON object, one variable per line."""
    return json.dumps(dict(env), indent=2, sort_keys=True) + "\n"


def check_k8s_names(name: str, namespace: str | None) -> None:
    """Refuse a Secret name or namespace that the API server would reject."""
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise ConfigError(
            "--name", f"got {name!r}, expected a DNS subdomain (lower case, digits, '-', '.')"
        )
    if namespace is not None and (len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace)):
        raise ConfigError(
            "--namespace", f"got {namespace!r}, expected a DNS label (lower case, digits, '-')"
        )


def k8s_secret_text(
    env: Mapping[str, str],
    ca_pem: str | None,
    *,
    name: str,
    namespace: str | None,
    encoding: Encoding = "stringData",
) -> str:
    """A ``v1/Secret`` manifest (YAML) with every variable, and the CA bundle as ``ca.pem``.

    Values are written as JSON strings, which YAML reads verbatim, so no value
    can break the document. ``encoding="data"`` base64-encodes them instead.
    """
    check_k8s_names(name, namespace)
    items = dict(env)
    if ca_pem is not None:
        items[K8S_CA_KEY] = ca_pem

    def scalar(value: str) -> str:
        if encoding == "data":
            value = base64.b64encode(value.encode()).decode()
        return json.dumps(value)

    lines = [
        "# Generated by `aragora-redis env --format k8s-secret`. It holds credentials:",
        "# apply it (kubectl apply -f), never commit it.",
    ]
    if ca_pem is not None:
        lines.append(
            f"# Mount key {K8S_CA_KEY} where {CA_VARIABLE} points "
            f"({env.get(CA_VARIABLE, K8S_CA_MOUNT_PATH)})."
        )
    lines += ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {json.dumps(name)}"]
    if namespace is not None:
        lines.append(f"  namespace: {json.dumps(namespace)}")
    lines += [
        "  labels:",
        '    app.kubernetes.io/name: "aragora-redis"',
        "type: Opaque",
        f"{encoding}:",
    ]
    lines += [f"  {json.dumps(key)}: {scalar(value)}" for key, value in sorted(items.items())]
    return "\n".join(lines) + "\n"
