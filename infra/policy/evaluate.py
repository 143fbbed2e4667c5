"""Run the pack without the Pulumi CLI, over resources collected elsewhere (tests, offline plan).

:func:`evaluate` calls each policy's ``validate`` exactly as CrossGuard does:
resource policies once per resource, stack policies once with all of them.
:func:`output_violations` is the check CrossGuard cannot make: policies never
learn whether a stack output is secret (pulumi-policy unwraps secrets before
a policy sees a value, pulumi/pulumi-policy#241), so the pack checks the
resource properties carrying credentials (``credentials-secret``) and this
function checks the ``ARAGORA_REDIS_*`` outputs themselves where the outputs
are known, i.e. under mocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ..outputs import CREDENTIAL_VARIABLES, ENV_MAP_OUTPUT
from .rules import POLICIES

Level = Literal["mandatory", "advisory"]
#: The level of a policy that sets none; ``__main__`` gives the pack the same default.
PACK_LEVEL = EnforcementLevel.MANDATORY
OUTPUTS_POLICY = "credential-outputs-secret"


@dataclass(frozen=True)
class Violation:
    """One reported violation: the policy, its level, the message and the resource's URN."""

    policy: str
    level: Level
    message: str
    urn: str | None = None

    def __str__(self) -> str:
        return f"[{self.level}] {self.policy}: {self.message}"


def level_of(policy: Policy) -> Level:
    """``mandatory`` or ``advisory`` (a disabled policy is not run)."""
    level = policy.enforcement_level or PACK_LEVEL
    return "advisory" if level == EnforcementLevel.ADVISORY else "mandatory"


def evaluate(
    resources: Sequence[PolicyResource], policies: Sequence[Policy] = POLICIES
) -> list[Violation]:
    """Every violation ``policies`` report for ``resources``, in policy order."""
    out: list[Violation] = []
    for policy in policies:
        if policy.enforcement_level == EnforcementLevel.DISABLED:
            continue
        report = _collector(out, policy.name, level_of(policy))
        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(
                    r.resource_type, r.props, r.urn, r.name, r.opts, r.provider
                )
                _finish(policy.validate(args, report))
        elif isinstance(policy, StackValidationPolicy):
            _finish(policy.validate(StackValidationArgs(list(resources)), report))
    return out


def output_violations(secret_flags: Mapping[str, bool]) -> list[Violation]:
    """Violations of credential outputs (output name -> is secret) that are not secret."""
    return [
        Violation(
            OUTPUTS_POLICY,
            "mandatory",
            f"stack output {name} carries a credential but is not secret:"
            " export it with pulumi.Output.secret (infra/outputs.py)",
        )
        for name, secret in sorted(secret_flags.items())
        if (name in CREDENTIAL_VARIABLES or name == ENV_MAP_OUTPUT) and not secret
    ]


def mandatory(violations: Sequence[Violation]) -> list[Violation]:
    """The mandatory ones."""
    return [v for v in violations if v.level == "mandatory"]


def _collector(out: list[Violation], name: str, level: Level) -> ReportViolation:
    def report(message: str, urn: str | None = None) -> None:
        out.append(Violation(name, level, message, urn))

    return report


def _finish(result: Awaitable[Any] | None) -> None:
    if result is not None and isawaitable(result):
        asyncio.run(_wait(result))


async def _wait(result: Awaitable[Any]) -> None:
    await result
