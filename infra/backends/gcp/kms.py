"""The customer-managed key: Memorystore's service agent may use it before the instance exists.

Memorystore encrypts with the key as its per-project service agent
(``service-<project number>@cloud-redis.iam.gserviceaccount.com`` for
Memorystore for Redis and Redis Cluster,
``service-<project number>@gcp-sa-memorystore.iam.gserviceaccount.com`` for
Valkey); without ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on the key the
create fails. With ``grantKeyAccess`` (the default) the stack adds that one
binding (non-authoritative: the key's other bindings stay), and the instance
waits for it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from .settings import GcpSettings

ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
#: The service agent's domain, by the API that creates the resource.
REDIS_AGENT = "cloud-redis.iam.gserviceaccount.com"
MEMORYSTORE_AGENT = "gcp-sa-memorystore.iam.gserviceaccount.com"


def service_agent(project_number: str, domain: str) -> str:
    """The IAM member of a project's Memorystore service agent."""
    return f"serviceAccount:service-{project_number}@{domain}"


def key_access(
    name: str, s: GcpSettings, domain: str, parent: pulumi.Resource
) -> list[pulumi.Resource]:
    """The binding the Memorystore resource must wait for (none without a key or a grant)."""
    if s.customer_managed_key is None or not s.grant_key_access:
        return []
    project = gcp.organizations.get_project_output(project_id=s.project)
    binding = gcp.kms.CryptoKeyIAMMember(
        f"{name}-cmek",
        crypto_key_id=s.customer_managed_key,
        role=ROLE,
        member=project.number.apply(lambda number: service_agent(number, domain)),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return [binding]
