"""Run the program with the sentinel-k8s backend under mocks; what it declared, as manifests.

Kubernetes objects are recorded exactly as declared (no computed attributes
added), so each one is a manifest: Pulumi's inputs already carry ``apiVersion``,
``kind`` and camelCase fields. Reads of existing objects (the TLS Secret, a CA
ConfigMap) answer with a fake CA; they are not the program's objects, so
:func:`manifests` leaves them out. :func:`run_k8s` is for other tests too (the
policy pack's).
"""

from __future__ import annotations

import base64
import importlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # no stubs
import pulumi

from . import harness
from .harness import Declared, Run, Secret

with warnings.catch_warnings():
    # The backends' registry imports pulumi_gcp, whose lazy modules warn as they load.
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("infra.backends")
# The backend's pure modules, for tests that use them without running the program.
from infra.backends.sentinel_k8s import scripts as scripts

#: Kubernetes version whose schemas the manifests are checked against.
KUBERNETES_VERSION = "1.31"
#: Not a certificate: a stand-in the program must pass through as the CA output.
FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIfakeClusterCA0\n-----END CERTIFICATE-----\n"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
COMPONENT = "aragora-redis:sentinel-k8s:SentinelK8sRedis"
PASSWORD = "random:index/randomPassword:RandomPassword"


class K8sMocks(harness.Mocks):
    """Records Kubernetes objects as declared and answers reads of existing ones."""

    def __init__(self) -> None:
        super().__init__({})
        self.reads: set[str] = set()

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        if args.typ == PASSWORD:
            # Each password its own rotation of the hard characters, so a swap shows.
            id_, state = super().new_resource(args)
            shift = sum(args.name.encode()) % len(state["result"])
            return id_, {**state, "result": state["result"][shift:] + state["result"][:shift]}
        if not args.typ.startswith("kubernetes:"):
            return super().new_resource(args)
        if args.resource_id:
            self.reads.add(args.name)
            return args.resource_id, read_state(args.typ, args.resource_id)
        return f"{args.name}-id", dict(args.inputs)


def read_state(type_: str, object_id: str) -> dict[str, Any]:
    """What the cluster answers for an existing object: ``ca.crt`` holds :data:`FAKE_CA`."""
    namespace, name = object_id.split("/", 1)
    metadata = {"name": name, "namespace": namespace}
    if type_ == SECRET:
        encoded = base64.b64encode(FAKE_CA.encode()).decode()
        return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata,
                "type": "kubernetes.io/tls",
                "data": {"ca.crt": encoded, "tls.crt": encoded, "tls.key": "a2V5"}}  # fmt: skip
    if type_ == CONFIG_MAP:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                "data": {"ca.crt": FAKE_CA}}  # fmt: skip
    raise NotImplementedError(f"no mock for reading {type_}")


@dataclass
class K8sRun(Run):
    """A :class:`Run` plus the names of the objects that were read, not declared."""

    reads: set[str] = field(default_factory=set)

    def objects(self) -> list[Declared]:
        """Every Kubernetes object the program declared (reads left out)."""
        return [
            r
            for r in self.resources
            if r.type.startswith("kubernetes:") and r.name not in self.reads
        ]

    def object(self, kind: str, name: str) -> Declared:
        """The declared object of ``kind`` whose ``metadata.name`` is ``name``."""
        found = [r for r in self.objects() if r.inputs["kind"] == kind and meta_name(r) == name]
        assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
        return found[0]

    def of_kind(self, kind: str) -> list[Declared]:
        """The declared objects of ``kind``."""
        return [r for r in self.objects() if r.inputs["kind"] == kind]


def run_k8s(config: Mapping[str, Any], stack: str = "test") -> K8sRun:
    """:func:`harness.run_program` with the Kubernetes mocks."""
    mocks = K8sMocks()
    run = harness.run_program(config, stack, mocks=mocks)
    return K8sRun(run.resources, run.outputs, run.error, run.warnings, set(mocks.reads))


def passwords(run: Run) -> tuple[str, str]:
    """The generated (data-node, Sentinel) passwords, told apart by name.

    Registration order is not declaration order (Pulumi registers concurrently).
    """
    found = {r.name.rsplit("-", 2)[-2]: str(r.inputs["result"]) for r in run.of_type(PASSWORD)}
    assert sorted(found) == ["redis", "sentinel"], f"passwords: {sorted(found)}"
    assert found["redis"] != found["sentinel"], "two distinct passwords"
    return found["redis"], found["sentinel"]


def meta_name(resource: Declared) -> str:
    """``metadata.name`` of a declared object."""
    name: str = resource.inputs["metadata"]["name"]
    return name


def manifest(resource: Declared) -> dict[str, Any]:
    """The object as ``kubectl apply`` would take it: secret envelopes opened."""
    opened: dict[str, Any] = _open(resource.inputs)
    return opened


def _open(value: Any) -> Any:
    if isinstance(value, Secret):
        return _open(value.value)
    if isinstance(value, dict):
        return {k: _open(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_open(v) for v in value]
    return value


def validate(resource: Declared) -> None:
    """Check the object against the Kubernetes schema (strict: unknown fields fail)."""
    kubernetes_validate.validate(manifest(resource), KUBERNETES_VERSION, strict=True)


def sentinel_k8s(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:sentinel-k8s`` section (``None`` deletes)."""
    return {f"sentinel-k8s.{k}": v for k, v in changes.items()}
