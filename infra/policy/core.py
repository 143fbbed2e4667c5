"""What every rule of the pack shares: the resource as a check sees it, prod-ness, policy builders.

A check is a plain function of a :class:`Subject` (one resource) that yields
messages; :func:`resource_policy` turns a table of checks (resource type ->
check) into a CrossGuard :class:`~pulumi_policy.ResourceValidationPolicy` that
prefixes each message with the resource's type and name. Stack-wide rules get
every resource as a :class:`Subject` and yield ``(message, urn)`` pairs.

During ``pulumi preview`` a property computed from another resource's output
is unknown, and pulumi-policy raises when a policy reads it (the CLI then
reports that the policy could not run). Checks that only need to know that a
property is set (an AUTH token from a RandomPassword) use :func:`present`,
which counts an unknown value as set.

Prod-ness is a stack-level fact decided the same way for every rule: a
resource belongs to a prod stack when its ``environment`` tag/label is
``prod`` (the program tags every taggable resource from
``aragora-redis:environment``) **or** the stack name in its URN is ``prod``,
``prod-*`` or ``*-prod``. Either signal is enough, so neither a tag
overridden in ``aragora-redis:tags`` nor a resource type without tags (an
Azure Managed Redis database) slips out of the prod rules.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ..settings import config_key

Props = Mapping[str, Any]
_PROD_STACK = re.compile(r"(prod|production)([-_.].*)?|.*[-_.](prod|production)")


@dataclass(frozen=True)
class Subject:
    """One resource as a check sees it. ``props`` are never put in a message (they hold secrets)."""

    type: str
    name: str
    urn: str
    props: Props
    protect: bool
    secret_outputs: frozenset[str]
    #: The parent's URN, when there is one.
    parent: str | None = None

    @classmethod
    def of(cls, resource: ResourceValidationArgs | PolicyResource) -> Subject:
        """The subject of a CrossGuard resource (validation args or a stack resource)."""
        opts = resource.opts
        return cls(
            type=resource.resource_type,
            name=resource.name,
            urn=resource.urn,
            props=resource.props,
            protect=bool(opts.protect),
            secret_outputs=frozenset(opts.additional_secret_outputs or ()),
            parent=opts.parent or None,
        )

    def __str__(self) -> str:
        return f"{self.type} '{self.name}'"

    def get(self, path: str, default: Any = None) -> Any:
        """The property at a dotted ``path`` (``sku.name``); ``default`` when missing."""
        return lookup(self.props, path, default)

    @property
    def stack(self) -> str:
        """The stack name in the URN (``urn:pulumi:<stack>::<project>::...``)."""
        head = self.urn.split("::", 1)[0]
        return head.removeprefix("urn:pulumi:")

    @property
    def environment(self) -> str | None:
        """The ``environment`` tag or label of the resource, when it has one."""
        for path in ("tags", "labels", "metadata.labels"):
            tags = self.get(path)
            if isinstance(tags, Mapping) and isinstance(tags.get("environment"), str):
                return str(tags["environment"])
        return None

    @property
    def prod(self) -> bool:
        """Whether the resource belongs to a prod stack (tag or stack name, see the module doc)."""
        return self.environment == "prod" or _PROD_STACK.fullmatch(self.stack) is not None


Check = Callable[[Subject], Iterable[str]]
StackCheck = Callable[[Sequence[Subject]], Iterable[tuple[str, str | None]]]


def present(props: Props, path: str) -> bool:
    """Whether ``path`` is set; a value unknown during preview is set (it will be known)."""
    try:
        return bool(lookup(props, path))
    except UnknownValueError:
        return True


def lookup(props: Props, path: str, default: Any = None) -> Any:
    """The value at a dotted ``path`` of nested mappings, ``default`` when absent or ``None``."""
    node: Any = props
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return default
        node = node[part]
    return node


def number(value: Any, default: float = 0) -> float:
    """A numeric property (Pulumi passes numbers as floats, sometimes as strings)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def key(*path: str | int) -> str:
    """A stack config key, for telling what to change (``aragora-redis:aws.replicas``)."""
    return config_key(*path)


def open_cidr(cidr: Any) -> bool:
    """Whether ``cidr`` admits the internet: ``0.0.0.0/0``, ``::/0`` or any public range."""
    if not isinstance(cidr, str) or not cidr:
        return False
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return True  # not a range that can be shown to be private
    return network.prefixlen == 0 or not network.is_private


def resource_policy(
    name: str, description: str, checks: Mapping[str, Check], level: EnforcementLevel
) -> ResourceValidationPolicy:
    """A resource policy running ``checks[type]`` on each resource of a listed type."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        check = checks.get(args.resource_type)
        if check is None:
            return
        subject = Subject.of(args)
        for message in check(subject):
            report(f"{subject}: {message}", None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=level
    )


def stack_policy(
    name: str, description: str, check: StackCheck, level: EnforcementLevel
) -> StackValidationPolicy:
    """A stack policy running ``check`` over every resource of the stack."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        subjects = [Subject.of(r) for r in args.resources]
        for message, urn in check(subjects):
            report(message, urn)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=level
    )


def merge(*tables: Mapping[str, Check]) -> dict[str, Check]:
    """One type -> check table from the per-cloud tables (a type appears in one cloud only)."""
    out: dict[str, Check] = {}
    for table in tables:
        for type_, check in table.items():
            if type_ in out:
                raise ValueError(f"two checks for {type_} in one rule")
            out[type_] = check
    return out


def only_in_prod(check: Check) -> Check:
    """``check`` for resources of prod stacks, nothing elsewhere."""

    def prod_check(subject: Subject) -> Iterable[str]:
        return check(subject) if subject.prod else ()

    return prod_check


def secret_properties(*names: str) -> Check:
    """A check that each credential property ``names`` (when present) is a secret output."""

    def check(subject: Subject) -> Iterable[str]:
        for name in names:
            if _has(subject.props, name) and name not in subject.secret_outputs:
                yield (
                    f"{name} carries a credential but is not a secret output: list it in"
                    " additional_secret_outputs (provider SDKs do for their secret fields)"
                )

    return check


def _has(props: Props, name: str) -> bool:
    try:
        return name in props
    except UnknownValueError:  # there, with a value known after preview
        return True
