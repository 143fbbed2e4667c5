"""Each invalid sentinel-k8s config stops the program before any resource is declared.

The error names the config key, shows the value and says what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import StackConfigError

from ..harness import ErrorCase as Case
from ..harness import case_ids
from ..k8s_mocks import run_k8s, sentinel_k8s
from ..stack_config import changed

STACK = "dev-sentinel"
SECTION = "aragora-redis:sentinel-k8s"


CASES = [
    Case("two sentinels", sentinel_k8s(sentinels=2), f"{SECTION}.sentinels",
         ("got 2", "3 or more")),
    Case("quorum above sentinels", sentinel_k8s(quorum=4), f"{SECTION}.quorum",
         ("got 4", "2 to 3")),
    Case("quorum below a majority", sentinel_k8s(sentinels=5, quorum=2), f"{SECTION}.quorum",
         ("got 2", "3 to 5")),
    Case("no replica in staging", {"environment": "staging", **sentinel_k8s(replicas=0)},
         f"{SECTION}.replicas", ("got 0", "1 to 8 in staging")),
    Case("min replicas above replicas", sentinel_k8s(minReplicasToWrite=3),
         f"{SECTION}.minReplicasToWrite", ("got 3", "0 to 2")),
    Case("no write guard in prod", {"environment": "prod", **sentinel_k8s(minReplicasToWrite=0)},
         f"{SECTION}.minReplicasToWrite", ("got 0", "1 or more in prod")),
    Case("soft anti-affinity in prod",
         {"environment": "prod", **sentinel_k8s(podAntiAffinity="preferred")},
         f"{SECTION}.podAntiAffinity", ("'preferred'", "required in prod")),
    Case("unknown key", sentinel_k8s(replica=3), SECTION,
         ("['replica']", "only these keys: allowedNamespaces,")),
    Case("TLS without a certificate", sentinel_k8s(tlsSecretName=None),
         f"{SECTION}.tlsSecretName", ("kubernetes.io/tls Secret",)),
    Case("TLS in a namespace the stack creates", sentinel_k8s(createNamespace=True),
         f"{SECTION}.createNamespace", ("got True", "false with TLS")),
    Case("certificate without TLS", {"tls": "false"}, f"{SECTION}.tlsSecretName",
         ("'aragora-redis-tls'", "aragora-redis:tls is false")),
    Case("TLS off in prod", {"environment": "prod", "tls": "false"}, "aragora-redis:tls",
         ("got False", "true (prod")),
    Case("latest image", sentinel_k8s(redisImage="redis:latest"), f"{SECTION}.redisImage",
         ("'redis:latest'", "pinned to a version tag")),
    Case("fencing without an image", sentinel_k8s(fencerImage=None), f"{SECTION}.fencerImage",
         ("built from client/", "fencing: false")),
    Case("untagged image", sentinel_k8s(haproxyImage="haproxy"), f"{SECTION}.haproxyImage",
         ("'haproxy'", "pinned")),
    Case("Bitnami image", sentinel_k8s(redisImage="bitnami/redis:7.4.2"),
         f"{SECTION}.redisImage", ("'bitnami/redis:7.4.2'", "not Bitnami")),
    Case("namespace", sentinel_k8s(namespace="Aragora_Redis"), f"{SECTION}.namespace",
         ("'Aragora_Redis'", "a DNS label")),
    Case("failure detection too fast", sentinel_k8s(downAfterMs=100),
         f"{SECTION}.downAfterMs", ("100", "greater than or equal to 500")),
    Case("nobody may connect", sentinel_k8s(allowedNamespaces=None), f"{SECTION}.allowedNamespaces",
         ("got []", "allowedPodLabels")),
    Case("storage size", sentinel_k8s(storageSize="8GB"), f"{SECTION}.storageSize",
         ("'8GB'", "Ki, Mi, Gi or Ti")),
    Case("storage class", sentinel_k8s(storageClassName="Fast_SSD"),
         f"{SECTION}.storageClassName", ("'Fast_SSD'", "a Kubernetes object name")),
    Case("memory limit", sentinel_k8s(resources={"redis": {"cpuRequest": "1", "cpuLimit": "1",
         "memoryRequest": "1Gi", "memoryLimit": "1GB"}}),
         f"{SECTION}.resources.redis.memoryLimit", ("'1GB'", "a byte quantity")),
    Case("client labels", sentinel_k8s(allowedPodLabels={"app": "no spaces"}),
         f"{SECTION}.allowedPodLabels.app", ("'no spaces'", "a label value")),
    Case("maxmemory above the memory limit", sentinel_k8s(maxmemory="2gb"),
         f"{SECTION}.maxmemory", ("'2gb'", "less than resources.redis.memoryLimit (1Gi)")),
    Case("zone spread", sentinel_k8s(zoneSpread="always"), f"{SECTION}.zoneSpread",
         ("'always'", "'off', 'preferred' or 'required'")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_config_is_named_before_any_resource(case: Case) -> None:
    case.check(run_k8s(changed(STACK, case.changes), STACK))


def test_rules_file_missing_names_the_flag(tmp_path: Path) -> None:
    from infra.backends.sentinel_k8s.monitoring import load_rules

    with pytest.raises(StackConfigError) as missing:
        load_rules(tmp_path / "redis-rules.yml")
    assert missing.value.keys == (f"{SECTION}.prometheusRule",)
    assert "false until redis-rules.yml exists" in str(missing.value)
    empty = tmp_path / "empty.yml"
    empty.write_text("groups: []\n")
    with pytest.raises(StackConfigError, match="non-empty list of groups"):
        load_rules(empty)
