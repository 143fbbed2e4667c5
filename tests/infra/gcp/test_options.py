"""The GCP backend's options: private service access creation, BASIC in dev, no secret, staging."""

from __future__ import annotations

from typing import Any

from aragora_redis import RedisSettings
from infra.outputs import ENV_MAP_OUTPUT

from ..gcp_mocks import INSTANCE, gcp, run_gcp
from ..harness import Run, evaluated
from ..stack_config import changed

ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
CONNECTION = "gcp:servicenetworking/connection:Connection"


def run(**changes: Any) -> Run:
    return evaluated(run_gcp(changed("prod-gcp", changes), "prod-gcp"))


def test_private_service_access_can_be_created() -> None:
    result = run(**gcp(createPrivateServiceAccess=True, reservedIpRange=None))
    address = result.one(ADDRESS)
    network = changed("prod-gcp", {})["aragora-redis:gcp"]["network"]
    assert address.inputs["purpose"] == "VPC_PEERING", f"{address}"
    assert address.inputs["addressType"] == "INTERNAL", f"{address}"
    assert address.inputs["prefixLength"] == 20, f"{address}"
    assert address.inputs["network"] == network, f"{address}"
    connection = result.one(CONNECTION)
    assert connection.inputs["service"] == "servicenetworking.googleapis.com"
    assert connection.inputs["reservedPeeringRanges"] == [address.inputs["name"]]
    assert connection.inputs["network"] == network
    assert connection.inputs["deletionPolicy"] == "ABANDON", "peering shared with other services"
    assert result.one(INSTANCE).inputs["reservedIpRange"] == address.inputs["name"]


def test_without_creation_no_peering_is_declared() -> None:
    result = run()
    assert not result.of_type(ADDRESS)
    assert not result.of_type(CONNECTION)
    assert result.one(INSTANCE).inputs["reservedIpRange"] == "aragora-prod-psa"


def test_dev_may_choose_basic_and_is_unprotected() -> None:
    result = run(
        environment="dev", **gcp(tier="BASIC", memorySizeGb=1, replicas=None, readReplicas=None)
    )
    redis = result.one(INSTANCE)
    assert redis.inputs["tier"] == "BASIC"
    assert "replicaCount" not in redis.inputs
    assert "readReplicasMode" not in redis.inputs
    assert not redis.protect
    assert redis.inputs["deletionProtection"] is False
    assert redis.inputs["authEnabled"] is True
    assert redis.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"


def test_staging_defaults_one_replica_without_read_replicas() -> None:
    changes = gcp(replicas=None, readReplicas=None, memorySizeGb=None, snapshotPeriod=None)
    result = run(environment="staging", **changes)
    redis = result.one(INSTANCE)
    assert redis.inputs["tier"] == "STANDARD_HA"
    assert redis.inputs["replicaCount"] == 1
    assert redis.inputs["readReplicasMode"] == "READ_REPLICAS_DISABLED"
    assert redis.inputs["memorySizeGb"] == 2
    assert redis.inputs["persistenceConfig"]["rdbSnapshotPeriod"] == "SIX_HOURS"
    env = result.outputs[ENV_MAP_OUTPUT].value
    assert RedisSettings.from_env(env).to_env() == env


def test_no_secret_id_publishes_nothing() -> None:
    result = run(**gcp(secretId=None))
    assert not result.of_type("gcp:secretmanager/secret:Secret")
    assert not result.of_type("gcp:secretmanager/secretVersion:SecretVersion")


def test_prod_without_notification_channels_warns() -> None:
    result = run(**gcp(notificationChannels=None))
    assert any("notificationChannels" in w for w in result.warnings), result.warnings
    for policy in result.of_type("gcp:monitoring/alertPolicy:AlertPolicy"):
        assert not policy.inputs.get("notificationChannels"), f"{policy}"


def test_ca_bundle_keeps_every_certificate_in_order() -> None:
    # Imported here, after .gcp_mocks silenced pulumi_gcp's import-time deprecation warnings.
    from pulumi_gcp.redis.outputs import InstanceServerCaCert

    from infra.backends.gcp.instance import ca_bundle

    certs = [
        InstanceServerCaCert(cert="-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----"),
        InstanceServerCaCert(cert=None),
        InstanceServerCaCert(cert="-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n"),
    ]
    bundle = ca_bundle(certs)
    assert bundle.count("BEGIN CERTIFICATE") == 2
    assert bundle.index("old") < bundle.index("new")
    assert bundle.endswith("-----END CERTIFICATE-----\n")
    assert ca_bundle(None) == ""


def test_tags_become_valid_labels() -> None:
    from infra.backends.gcp.common import labels_of

    labels = labels_of({"Cost Center": "Eng/Prod", "x" * 70: "ok"})
    assert labels == {"cost-center": "eng-prod", "x" * 63: "ok"}
