"""The customer-managed key: Memorystore's service agent gets it; a key elsewhere is an error."""

from __future__ import annotations

import pytest

from infra.settings import StackConfigError

from ..gcp_mocks import PROJECT_NUMBER, cluster_stack, run_gcp
from ..stack_config import changed, stack_file

BINDING = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
REDIS_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@cloud-redis.iam.gserviceaccount.com"
VALKEY_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-memorystore.iam.gserviceaccount.com"
KEY = stack_file("prod-gcp")["aragora-redis:gcp"]["customerManagedKey"]
CASES = {
    "instance": (changed("prod-gcp", {}), REDIS_AGENT),
    "redis cluster": (cluster_stack(), REDIS_AGENT),
    "valkey": (cluster_stack({"gcp.cluster.engine": "valkey"}), VALKEY_AGENT),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_service_agent_of_the_engine_may_use_the_key(case: str) -> None:
    config, agent = CASES[case]
    run = run_gcp(config, "prod-gcp")
    assert run.error is None, repr(run.error)
    binding = run.one(BINDING)
    assert (binding.inputs["cryptoKeyId"], binding.inputs["role"]) == (KEY, ROLE)
    assert binding.inputs["member"] == agent


def test_no_grant_without_a_key_or_when_the_key_owners_grant_it() -> None:
    for changes in ({"gcp.customerManagedKey": None}, {"gcp.grantKeyAccess": False}):
        run = run_gcp(changed("prod-gcp", changes), "prod-gcp")
        assert run.error is None, repr(run.error)
        assert not run.of_type(BINDING), changes


def test_a_key_in_another_region_is_named_before_any_resource() -> None:
    elsewhere = KEY.replace("/locations/us-central1/", "/locations/europe-west1/")
    run = run_gcp(changed("prod-gcp", {"gcp.customerManagedKey": elsewhere}), "prod-gcp")
    assert isinstance(run.error, StackConfigError), repr(run.error)
    (problem,) = run.error.problems
    assert problem.key == "aragora-redis:gcp.customerManagedKey"
    assert "a key in region us-central1" in str(problem)
    assert not run.resources
