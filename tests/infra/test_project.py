"""The project file's config declarations and defaults hold for every stack file."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from .stack_config import PROJECT, ROOT, STACKS, project_defaults, stack_file

TYPES = {"string": str, "boolean": bool, "integer": int}


def _declared() -> dict[str, dict[str, Any]]:
    data = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text())
    config: dict[str, dict[str, Any]] = data["config"]
    return config


def _stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml"))


def test_every_declaration_has_a_type_and_a_description() -> None:
    for key, declared in _declared().items():
        assert declared.get("type") in TYPES, f"{key}: type"
        assert declared.get("description"), f"{key}: description"
        if "default" in declared:
            assert isinstance(declared["default"], TYPES[declared["type"]]), f"{key}: default"


@pytest.mark.parametrize("stack", _stacks())
def test_stack_files_set_the_required_keys_with_the_declared_types(stack: str) -> None:
    config = stack_file(stack)
    for key, declared in _declared().items():
        full = f"{PROJECT}:{key}"
        assert full in config, f"stacks/Pulumi.{stack}.yaml: {full} is required (no default)"
        assert isinstance(config[full], TYPES[declared["type"]]), f"{stack}: {full} type"


@pytest.mark.parametrize("stack", _stacks())
def test_no_stack_file_holds_a_secret(stack: str) -> None:
    text = (STACKS / f"Pulumi.{stack}.yaml").read_text()
    assert "secure:" not in text, f"stacks/Pulumi.{stack}.yaml holds an encrypted secret"


def test_project_defaults_reach_a_stack_that_does_not_set_them() -> None:
    assert project_defaults() == {f"{PROJECT}:tls": True}
    assert stack_file("prod-aws")[f"{PROJECT}:tls"] is True
