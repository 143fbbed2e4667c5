"""The stacks' config as the Pulumi CLI hands it to the program: a stack file over the
project's defaults, with the changes a test makes."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
PROJECT = "aragora-redis"


def section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ``aragora-redis:<name>`` section of a stack's config."""
    found = config[f"aragora-redis:{name}"]
    assert isinstance(found, dict)
    return found


def project_defaults() -> dict[str, Any]:
    """The defaults ``Pulumi.yaml`` gives every stack (``config:`` values and ``default``s)."""
    data = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text())
    out: dict[str, Any] = {}
    for key, declared in (data.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if not isinstance(declared, dict):
            out[full] = declared
        elif "value" in declared or "default" in declared:
            out[full] = declared.get("value", declared.get("default"))
    return out


def stack_file(stack: str) -> dict[str, Any]:
    """The config of ``stacks/Pulumi.<stack>.yaml`` over the project's defaults, as the CLI
    hands it to the program."""
    data = YAML(typ="safe").load((STACKS / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, Any] = {**project_defaults(), **data["config"]}
    return config


def aws(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:aws`` section (``None`` deletes)."""
    return {f"aws.{k}": v for k, v in changes.items()}


def changed(stack: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The stack file's config with ``changes`` (dotted paths under aragora-redis; None deletes)."""
    config = copy.deepcopy(stack_file(stack))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = config
        for i, part in enumerate(parents):
            key = f"aragora-redis:{part}" if i == 0 else part
            node = node.setdefault(key, {})
        key = last if parents else f"aragora-redis:{last}"
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return config


def as_pulumi_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Config values as Pulumi hands them to a program: objects and lists as JSON."""
    out = {}
    for key, value in config.items():
        if isinstance(value, str):
            out[key] = value
        else:
            out[key] = json.dumps(value)
    return out


def default_subnets(config: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Subnet id -> (AZ, VPC) for the aws section: each subnet in its own AZ of the VPC."""
    aws = config.get("aragora-redis:aws")
    if not isinstance(aws, dict):
        return {}
    region = config.get("aws:region", "us-east-1")
    return {
        subnet: (f"{region}{'abcdef'[i % 6]}", aws.get("vpcId", ""))
        for i, subnet in enumerate(aws.get("subnetIds", []))
        if isinstance(subnet, str)
    }
