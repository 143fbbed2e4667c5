"""Run any ``stacks/Pulumi.<name>.yaml`` under its backend's mocks, and the policy pack over it.

:func:`run_stack` picks the mocks from the stack's ``aragora-redis:backend``;
:func:`check_run` evaluates the whole pack (and the output secrecy check that
CrossGuard cannot make) over what a run declared. The offline plan
(``scripts/plan.py``) uses both.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions

from infra.policy.evaluate import Violation, evaluate, output_violations

from . import stack_config
from .harness import Run, Secret
from .stack_config import stack_file

Runner = Callable[[Mapping[str, Any], str], Run]
#: The function running a stack of each backend under its mocks, as ``module:function``
#: of tests.infra. Imported on first use: loading every cloud SDK's mocks costs seconds.
RUNNERS: dict[str, str] = {
    "aws": "harness:run_program",
    "gcp": "gcp_mocks:run_gcp",
    "azure": "azure_mocks:run_azure",
    "azure-managed": "azure_mocks:run_azure",
    "sentinel-k8s": "k8s_mocks:run_k8s",
}


@dataclass
class StackRun(Run):
    """A :class:`Run` that also knows each resource's secret output names (URN -> names)."""

    secret_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)


class UnknownStackError(LookupError):
    """No ``stacks/Pulumi.<name>.yaml``, or a backend without mocks."""


def stack_names() -> list[str]:
    """Every stack with a file in ``stacks/``, sorted."""
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in stack_config.STACKS.glob("Pulumi.*.yaml")
    )


def backend_of(name: str) -> str:
    """The ``aragora-redis:backend`` of stack ``name``."""
    if name not in stack_names():
        raise UnknownStackError(f"no stack file stacks/Pulumi.{name}.yaml")
    return str(stack_file(name).get("aragora-redis:backend", ""))


def runner_of(backend: str) -> Runner:
    """The function running a stack of ``backend`` under its mocks."""
    if backend not in RUNNERS:
        raise UnknownStackError(f"no mocks for backend {backend!r}")
    module, function = RUNNERS[backend].split(":")
    runner: Runner = getattr(importlib.import_module(f"{__package__}.{module}"), function)
    return runner


def run_stack(name: str, config: Mapping[str, Any] | None = None) -> StackRun:
    """Run the program for stack ``name`` under its backend's mocks.

    ``config`` replaces the stack file's config (a weakened copy, say); the
    backend, and so the mocks, still come from the stack file.
    """
    runner = runner_of(backend_of(name))
    run = runner(stack_file(name) if config is None else config, name)
    return StackRun(
        resources=run.resources,
        outputs=run.outputs,
        error=run.error,
        warnings=run.warnings,
        secret_outputs={r.urn: r.secret_outputs for r in run.resources},
    )


def policy_resources(run: StackRun) -> list[PolicyResource]:
    """The declared resources as CrossGuard hands them to policies (secrets unwrapped)."""
    out = {
        r.urn: PolicyResource(
            r.type,
            _unwrapped(r.inputs),
            r.urn,
            r.name,
            PolicyResourceOptions(
                protect=r.protect,
                ignore_changes=[],
                delete_before_replace=None,
                aliases=[],
                custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                additional_secret_outputs=list(run.secret_outputs.get(r.urn, ())),
                parent=r.parent or None,
            ),
            None,
            None,
            [],
            {},
        )
        for r in run.resources
    }
    for resource in out.values():
        resource.parent = out.get(resource.opts.parent or "")
    return list(out.values())


def check_run(run: StackRun) -> list[Violation]:
    """The pack's violations for ``run``, then those of its credential outputs."""
    flags = {name: exported.secret for name, exported in run.outputs.items()}
    return evaluate(policy_resources(run)) + output_violations(flags)


def _unwrapped(value: Any) -> Any:
    if isinstance(value, Secret):
        return _unwrapped(value.value)
    if isinstance(value, dict):
        return {k: _unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrapped(v) for v in value]
    return value
