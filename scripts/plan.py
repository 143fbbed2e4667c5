"""Offline plan of a stack: its program under Pulumi's mocks, the resources, outputs and pack.

``make plan STACK=prod-aws`` (``PLAN_ARGS=--json`` for machines). Prints the
resource tree (type, name, parent nesting, the key security and HA properties,
protect), the outputs with every secret shown as ``[secret]``, and the policy
pack's violations. Exit status: 0 clean (advisories allowed), 1 a mandatory
violation or a program error, 2 an invalid stack config or an unknown stack.
Not a substitute for ``pulumi preview``: the mocks stand in for the providers,
so nothing is checked against a cloud.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Run as a file from anywhere, it imports the mocks of tests/infra and the
# program's packages from the repository root (as infra/__main__.py does).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from infra.policy import aws, azure, gcp, kubernetes
from infra.policy.core import Subject, lookup
from infra.policy.evaluate import Violation
from infra.settings import StackConfigError
from tests.infra.harness import Declared, Secret
from tests.infra.stacks import StackRun, UnknownStackError, check_run, run_stack, stack_names

MASK = "[secret]"
#: The properties shown per type: the security and HA facts a reviewer looks for.
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    aws.REPLICATION_GROUP: (
        "engine", "engineVersion", "nodeType", "clusterMode", "numCacheClusters",
        "numNodeGroups", "replicasPerNodeGroup", "preferredCacheClusterAzs",
        "automaticFailoverEnabled", "multiAzEnabled", "transitEncryptionEnabled",
        "transitEncryptionMode", "atRestEncryptionEnabled", "authToken", "userGroupIds",
        "snapshotRetentionLimit", "maintenanceWindow",
    ),
    aws.SECURITY_GROUP: ("vpcId",),
    aws.INGRESS_RULE: ("referencedSecurityGroupId", "cidrIpv4", "cidrIpv6", "fromPort"),
    aws.ALARM: ("alarmActions",),
    gcp.INSTANCE: (
        "tier", "replicaCount", "readReplicasMode", "locationId", "alternativeLocationId",
        "connectMode", "transitEncryptionMode", "authEnabled", "persistenceConfig.persistenceMode",
        "customerManagedKey", "deletionProtection",
    ),
    gcp.CLUSTER: (
        "shardCount", "replicaCount", "zoneDistributionConfig.mode", "transitEncryptionMode",
        "authorizationMode", "persistenceConfig.mode", "kmsKey", "deletionProtectionEnabled",
    ),
    gcp.VALKEY: (
        "mode", "shardCount", "replicaCount", "zoneDistributionConfig.mode",
        "transitEncryptionMode", "authorizationMode", "persistenceConfig.mode",
        "deletionProtectionEnabled",
    ),
    gcp.ALERT_POLICY: ("notificationChannels",),
    azure.REDIS: (
        "sku.name", "zones", "replicasPerPrimary", "shardCount", "enableNonSslPort",
        "minimumTlsVersion", "publicNetworkAccess", "redisConfiguration.rdbBackupEnabled",
    ),
    azure.ENTERPRISE: (
        "sku.name", "highAvailability", "zones", "minimumTlsVersion", "publicNetworkAccess",
    ),
    azure.DATABASE: (
        "clientProtocol", "port", "clusteringPolicy", "accessKeysAuthentication",
        "persistence.rdbEnabled",
    ),
    kubernetes.STATEFUL_SET: ("spec.replicas", "spec.podManagementPolicy"),
    kubernetes.SERVICE: ("spec.type",),
}  # fmt: skip


def _listeners(subject: Subject) -> dict[str, Any]:
    # Only the port directives: a conf in a Secret may hold a password.
    out = {}
    for name, text in kubernetes.conf_files(subject):
        found = kubernetes.directives(text)
        if "port" in found or "tls-port" in found:
            out[name] = f"port {found.get('port', '6379')}, tls-port {found.get('tls-port', '-')}"
    return out


def _zones(subject: Subject) -> dict[str, Any]:
    spec = subject.get("spec.template.spec") or {}
    return {"spread over zones": kubernetes.spread_over_zones(spec)}


#: Facts derived from a resource's properties, for types whose key facts are not one path.
DERIVED: dict[str, Callable[[Subject], dict[str, Any]]] = {
    kubernetes.CONFIG_MAP: _listeners,
    kubernetes.SECRET: _listeners,
    kubernetes.STATEFUL_SET: _zones,
}


def key_properties(resource: Declared, secret_outputs: Sequence[str]) -> dict[str, Any]:
    """The key properties of ``resource`` that are set, secrets as :data:`MASK`."""
    subject = Subject(
        resource.type,
        resource.name,
        resource.urn,
        _plain(resource.inputs),
        resource.protect,
        frozenset(secret_outputs),
    )
    out: dict[str, Any] = dict(DERIVED[resource.type](subject)) if resource.type in DERIVED else {}
    for path in KEY_PROPERTIES.get(resource.type, ()):
        value = lookup(resource.inputs, path)
        if value is None:
            continue
        secret = _secret(value) or path.split(".")[0] in secret_outputs
        out[path] = MASK if secret else _whole(value)
    return out


def masked_outputs(run: StackRun) -> dict[str, Any]:
    """Every stack output, the secret ones as :data:`MASK`."""
    return {
        name: MASK if exported.secret or _secret(exported.value) else exported.value
        for name, exported in sorted(run.outputs.items())
    }


def plan_document(stack: str, run: StackRun, violations: Sequence[Violation]) -> dict[str, Any]:
    """The plan as JSON-ready data (the ``--json`` output)."""
    return {
        "stack": stack,
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent or None,
                "protect": r.protect,
                "properties": key_properties(r, run.secret_outputs.get(r.urn, ())),
            }
            for r in run.resources
        ],
        "outputs": masked_outputs(run),
        "warnings": list(run.warnings),
        "violations": [
            {"policy": v.policy, "level": v.level, "message": v.message, "urn": v.urn}
            for v in violations
        ],
    }


def resource_tree(stack: str, run: StackRun) -> Tree:
    """The resources nested under their parents, the stack at the root."""
    root = Tree(Text(f"stack {stack}", style="bold"))
    nodes: dict[str, Tree] = {}
    # Grouped by type, then name: the mocks register in no fixed order.
    pending = sorted(run.resources, key=lambda r: (r.type, r.name))
    while pending:
        placed = [r for r in pending if r.parent in nodes or not _has_parent(r, run)]
        if not placed:  # a parent outside the run: show the rest at the root
            placed = pending
        for r in placed:
            parent = nodes.get(r.parent, root)
            nodes[r.urn] = parent.add(_label(r, run.secret_outputs.get(r.urn, ())))
        pending = [r for r in pending if r.urn not in nodes]
    return root


def _has_parent(resource: Declared, run: StackRun) -> bool:
    return any(r.urn == resource.parent for r in run.resources)


def _label(resource: Declared, secret_outputs: Sequence[str]) -> Text:
    label = Text()
    label.append(resource.type, style="cyan")
    label.append(f" {resource.name}", style="bold")
    if resource.protect:
        label.append("  protect", style="yellow")
    for name, value in key_properties(resource, secret_outputs).items():
        label.append(f"\n  {name}=", style="dim")
        label.append(json.dumps(value) if value != MASK else MASK)
    return label


def outputs_table(run: StackRun) -> Table:
    """The stack outputs, secrets masked."""
    table = Table(title="outputs")
    table.add_column("output", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in masked_outputs(run).items():
        text = value if isinstance(value, str) else json.dumps(value)
        table.add_row(Text(name), Text(text, style="dim" if value == MASK else ""))
    return table


def print_violations(console: Console, violations: Sequence[Violation]) -> None:
    """Mandatory violations, then advisories; or that there are none."""
    counts = {
        level: sum(v.level == level for v in violations) for level in ("mandatory", "advisory")
    }
    summary = f"{counts['mandatory']} mandatory, {counts['advisory']} advisory violation(s)"
    console.print(Text(f"policy pack: {summary}", style="bold"))
    for level, style in (("mandatory", "red"), ("advisory", "yellow")):
        for v in (v for v in violations if v.level == level):
            line = Text(f"  {level} {v.policy}: ", style=style) + Text(v.message)
            console.print(line, soft_wrap=True)  # one line per violation, for grep


def main(argv: Sequence[str] | None = None) -> int:
    """Plan the stack named in ``argv``; the exit status (see the module doc)."""
    names = stack_names()
    parser = argparse.ArgumentParser(
        prog="scripts/plan.py",
        description="Offline plan of a stack under Pulumi's mocks (not a pulumi preview).",
        epilog=f"stacks: {', '.join(names)}",
    )
    parser.add_argument("stack", nargs="?", help="a stacks/Pulumi.<stack>.yaml name")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    console, errors = Console(), Console(stderr=True)
    if args.stack not in names:
        problem = "no stack given" if args.stack is None else f"unknown stack {args.stack!r}"
        errors.print(Text(f"{parser.format_usage()}{problem}; stacks: {', '.join(names)}"))
        return 2
    try:
        with errors.status(f"running the program of {args.stack} under mocks"):
            run = run_stack(args.stack)
    except UnknownStackError as exc:
        errors.print(Text(str(exc)))
        return 2
    if isinstance(run.error, StackConfigError):
        title = f"stack {args.stack}: fix stacks/Pulumi.{args.stack}.yaml"
        errors.print(Panel(Text(str(run.error)), title=title, border_style="red"))
        return 2
    if run.error is not None:
        errors.print(Text(f"stack {args.stack}: the program failed: {run.error}", style="red"))
        return 1
    violations = check_run(run)
    failed = any(v.level == "mandatory" for v in violations)
    if args.json:
        console.print_json(json.dumps(plan_document(args.stack, run, violations)))
        return 1 if failed else 0
    console.print(resource_tree(args.stack, run))
    console.print(outputs_table(run))
    for warning in run.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    print_violations(console, violations)
    return 1 if failed else 0


def _whole(value: Any) -> Any:
    # Pulumi passes every number as a float: 3.0 nodes reads better as 3.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_secret(v) for v in value)
    return False


if __name__ == "__main__":
    sys.exit(main())
