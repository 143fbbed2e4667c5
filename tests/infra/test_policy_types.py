"""Every resource type token the pack checks is one the provider SDKs register.

A misspelt token would make a rule silently skip the resources it is meant
for; the installed SDKs list their tokens in their resource-module registry.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from infra.policy import aws, azure, gcp, kubernetes, rules

TOKEN = re.compile(r"[a-z-]+:[A-Za-z0-9./]+:[A-Z][A-Za-z0-9]*")
#: Custom resources of the Prometheus operator: no SDK registers them.
CUSTOM_RESOURCES = {kubernetes.PROMETHEUS_RULE}


def tokens(*modules: ModuleType) -> set[str]:
    return {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, str) and TOKEN.fullmatch(value)
    }


PACK_TOKENS = sorted(tokens(aws, gcp, azure, kubernetes, rules) - CUSTOM_RESOURCES)


def registry(package: str) -> str:
    spec = importlib.util.find_spec(f"pulumi_{package.replace('-', '_')}")
    assert spec is not None, package
    assert spec.origin is not None, package
    return Path(spec.origin).read_text()


def test_the_pack_knows_the_types_of_every_backend() -> None:
    assert set(rules.STATEFUL) <= set(PACK_TOKENS)
    assert {t.split(":")[0] for t in PACK_TOKENS} == {
        "aws", "gcp", "azure-native", "kubernetes", "random"
    }  # fmt: skip


@pytest.mark.parametrize("token", PACK_TOKENS)
def test_each_type_token_is_registered_by_its_sdk(token: str) -> None:
    assert f'"{token}"' in registry(token.split(":")[0])
