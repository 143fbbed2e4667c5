"""The GCP attributes the mocks compute, added to :mod:`tests.infra.harness` for a run.

Memorystore computes the instance's address, its port (6378 with TLS, so the
program must not assume 6379), the AUTH string and its server CA certificates;
the mocked instance has two certificates, as during a CA rotation.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import harness
from .harness import Run

INSTANCE = "gcp:redis/instance:Instance"
HOST, READ_HOST, TLS_PORT = "10.72.0.3", "10.72.0.4", 6378
#: Characters a URL must escape, so the round trip is tested with them.
FAKE_AUTH_STRING = "a1B2-c3D4/e5F6+g7H8:i9@J0"
CA_CERTS = (
    "-----BEGIN CERTIFICATE-----\nMIIcurrentCA0\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIInextCA1\n-----END CERTIFICATE-----\n",
)


def computed(type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The AWS attributes of :func:`harness.computed` plus Memorystore's."""
    out = _aws_computed(type_, name, inputs)
    if type_ == INSTANCE:
        tls = inputs.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
        out |= {
            "host": HOST,
            "port": TLS_PORT if tls else 6379,
            "authString": FAKE_AUTH_STRING if inputs.get("authEnabled") else "",
            "serverCaCerts": [
                {"cert": pem, "serialNumber": str(i)} for i, pem in enumerate(CA_CERTS)
            ]
            if tls
            else [],
            "currentLocationId": inputs.get("locationId", "us-central1-a"),
        }
        if inputs.get("readReplicasMode") == "READ_REPLICAS_ENABLED":
            out |= {"readEndpoint": READ_HOST, "readEndpointPort": TLS_PORT}
    return out


_aws_computed = harness.computed

with warnings.catch_warnings():
    # pulumi_gcp's lazy modules warn about their own deprecated names as they load.
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("pulumi_gcp.monitoring").AlertPolicy  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.compute").GlobalAddress  # noqa: B018 (loads the module)


@contextmanager
def gcp_mocks() -> Iterator[None]:
    """Within: the harness's mocks also compute Memorystore attributes."""
    harness.computed = computed
    try:
        yield
    finally:
        harness.computed = _aws_computed


def run_gcp(config: Mapping[str, Any], stack: str = "test") -> Run:
    """:func:`harness.run_program` with the GCP attributes mocked."""
    with gcp_mocks():
        return harness.run_program(config, stack)


def gcp(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:gcp`` section (``None`` deletes)."""
    return {f"gcp.{k}": v for k, v in changes.items()}
