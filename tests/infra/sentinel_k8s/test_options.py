"""sentinel-k8s options beyond the stack file: TLS off, a created namespace, prod protection,
no replica in dev, soft placement, five sentinels, a CA from a ConfigMap, label-only clients.
Every variant's objects are valid Kubernetes manifests."""

from __future__ import annotations

from typing import Any

import pytest

from aragora_redis import RedisSettings
from infra.outputs import CA_PEM_OUTPUT, ENV_MAP_OUTPUT

from ..harness import evaluated
from ..k8s_mocks import FAKE_CA, K8sRun, run_k8s, sentinel_k8s, validate
from ..stack_config import changed

STACK = "dev-sentinel"
BASE = "aragora-dev"
PLAIN = {"tls": "false", **sentinel_k8s(tlsSecretName=None, createNamespace=True)}


def deploy(changes: dict[str, Any]) -> K8sRun:
    run = evaluated(run_k8s(changed(STACK, changes), STACK))
    for resource in run.objects():
        if not resource.inputs["apiVersion"].startswith("monitoring.coreos.com/"):
            validate(resource)
    return run


def pod_spec(run: K8sRun, kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = run.object(kind, name).inputs["spec"]["template"]["spec"]
    return spec


def test_plain_dev_creates_its_namespace_and_speaks_plain_redis() -> None:
    run = deploy(PLAIN)
    (namespace,) = run.of_kind("Namespace")
    assert namespace.inputs["metadata"]["name"] == "aragora-redis-dev"
    assert not namespace.protect, "dev is not protected"
    for resource in run.objects():
        if resource is not namespace:
            assert resource.inputs["metadata"]["namespace"] == "aragora-redis-dev"
    assert CA_PEM_OUTPUT not in run.outputs
    assert not run.reads, "no TLS Secret to read"
    settings = RedisSettings.from_env(run.outputs[ENV_MAP_OUTPUT].value)
    assert not settings.ssl
    assert settings.url.startswith("redis://")
    for kind, name in (("StatefulSet", f"{BASE}-redis"), ("Deployment", f"{BASE}-haproxy")):
        volumes = {v["name"] for v in pod_spec(run, kind, name)["volumes"]}
        assert "tls" not in volumes, f"{kind} {name}: no TLS volume"
    conf = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    assert "port 6379" in conf["redis-0.conf"].splitlines()
    assert "check-ssl" not in conf["haproxy.cfg"]


def test_prod_protects_the_state() -> None:
    run = deploy({"environment": "prod"})
    protected = {
        (r.inputs["kind"], r.inputs["metadata"]["name"]) for r in run.objects() if r.protect
    }
    prod = "aragora-prod"  # the default name follows the environment
    assert protected == {("Secret", f"{prod}-auth"), ("StatefulSet", f"{prod}-redis")}


def test_dev_without_replicas_drops_the_write_guard() -> None:
    run = deploy(sentinel_k8s(replicas=0))
    redis = run.object("StatefulSet", f"{BASE}-redis")
    assert redis.inputs["spec"]["replicas"] == 1
    conf = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    assert "min-replicas-to-write 0" in conf["redis-0.conf"].splitlines()
    assert "connected_slaves" not in conf["haproxy.cfg"], "a lone master must stay routable"
    assert "redis-1.conf" not in conf


def test_soft_placement_without_zone_spread() -> None:
    run = deploy(sentinel_k8s(podAntiAffinity="preferred", zoneSpread="off"))
    for kind, name in (
        ("StatefulSet", f"{BASE}-redis"),
        ("StatefulSet", f"{BASE}-sentinel"),
        ("Deployment", f"{BASE}-haproxy"),
    ):
        spec = pod_spec(run, kind, name)
        anti = spec["affinity"]["podAntiAffinity"]
        assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti, f"{kind} {name}"
        (preferred,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
        term = preferred["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname", f"{kind} {name}"
        assert spec["topologySpreadConstraints"] == [], f"{kind} {name}: no zone spread"


def test_hard_zone_spread() -> None:
    run = deploy(sentinel_k8s(zoneSpread="required"))
    (spread,) = pod_spec(run, "StatefulSet", f"{BASE}-redis")["topologySpreadConstraints"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"


def test_five_sentinels_tolerate_two_losses() -> None:
    run = deploy(sentinel_k8s(sentinels=5, quorum=3))
    budget = run.object("PodDisruptionBudget", f"{BASE}-sentinel")
    assert budget.inputs["spec"]["maxUnavailable"] == 2
    conf = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    monitor = [x for x in conf["sentinel-4.conf"].splitlines() if x.startswith("sentinel monitor")]
    assert monitor[0].endswith(" 3"), monitor
    hosts = RedisSettings.from_env(run.outputs[ENV_MAP_OUTPUT].value).sentinel_hosts
    assert len(hosts) == 5


def test_ca_from_a_config_map() -> None:
    run = deploy(sentinel_k8s(tlsCaConfigMap="aragora-ca"))
    assert run.reads == {f"{BASE}-ca"}, "the ConfigMap is read, not the TLS Secret"
    assert run.outputs[CA_PEM_OUTPUT].value == FAKE_CA


def test_clients_by_label_in_the_namespace() -> None:
    run = deploy(sentinel_k8s(allowedNamespaces=None, allowedPodLabels={"app": "aragora"}))
    (policy,) = run.of_kind("NetworkPolicy")
    clients = policy.inputs["spec"]["ingress"][1]["from"]
    assert clients == [{"podSelector": {"matchLabels": {"app": "aragora"}}}]


def test_clients_by_label_in_other_namespaces() -> None:
    run = deploy(sentinel_k8s(allowedNamespaces=["a", "b"], allowedPodLabels={"app": "aragora"}))
    (policy,) = run.of_kind("NetworkPolicy")
    clients = policy.inputs["spec"]["ingress"][1]["from"]
    assert [c["namespaceSelector"]["matchLabels"] for c in clients] == [
        {"kubernetes.io/metadata.name": "a"},
        {"kubernetes.io/metadata.name": "b"},
    ]
    assert all(c["podSelector"] == {"matchLabels": {"app": "aragora"}} for c in clients)


def test_no_prometheus_objects_unless_asked() -> None:
    run = deploy(sentinel_k8s(prometheusRule=False))
    assert not run.of_kind("PrometheusRule")
    assert not run.of_kind("PodMonitor")


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (sentinel_k8s(maxmemory="900mb"), "maxmemory 900mb"),
        (
            sentinel_k8s(
                resources={
                    "redis": {
                        "cpuRequest": "1",
                        "cpuLimit": "2",
                        "memoryRequest": "4Gi",
                        "memoryLimit": "4Gi",
                    }
                }
            ),
            "maxmemory 3072mb",
        ),
    ],
)
def test_maxmemory(changes: dict[str, Any], line: str) -> None:
    run = deploy(changes)
    conf = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    assert line in conf["redis-0.conf"].splitlines()


def test_storage_class_name_is_rendered_into_the_data_claims() -> None:
    # Without it the claims take the cluster's default StorageClass; with none, they stay Pending.
    def claim_spec(run: K8sRun) -> dict[str, Any]:
        statefulset = run.object("StatefulSet", f"{BASE}-redis").inputs["spec"]
        (claim,) = statefulset["volumeClaimTemplates"]
        spec: dict[str, Any] = claim["spec"]
        return spec

    assert "storageClassName" not in claim_spec(deploy({}))
    named = claim_spec(deploy(sentinel_k8s(storageClassName="premium-rwo")))
    assert named["storageClassName"] == "premium-rwo"
    assert named["resources"] == {"requests": {"storage": "4Gi"}}


def test_fencing_off_needs_no_image_and_declares_no_watcher() -> None:
    run = deploy(sentinel_k8s(fencing=False, fencerImage=None))
    names = {r.inputs["metadata"]["name"] for r in run.objects()}
    assert f"{BASE}-fencing" not in names


def test_plain_fencing_has_no_tls_variables() -> None:
    run = deploy(PLAIN)
    (container,) = pod_spec(run, "Deployment", f"{BASE}-fencing")["containers"]
    env = {e["name"] for e in container["env"]}
    assert not env & {"ARAGORA_REDIS_SSL", "ARAGORA_REDIS_SSL_CA_CERTS"}
    volumes = {v["name"] for v in pod_spec(run, "Deployment", f"{BASE}-fencing")["volumes"]}
    assert volumes == {"run"}


def test_a_valkey_image_runs_the_data_and_sentinel_pods() -> None:
    """``redisImage: valkey/valkey:<tag>``: the same pods, on Valkey. Valkey's ``make install``
    adds the ``redis-server``/``redis-cli`` names the scripts call (USE_REDIS_SYMLINKS, on by
    default), and the rendered redis.conf runs on valkey-server (test_conf)."""
    run = deploy({**PLAIN, **sentinel_k8s(redisImage="valkey/valkey:8.1.4")})
    for name in (f"{BASE}-redis", f"{BASE}-sentinel"):
        images = {c["image"] for c in pod_spec(run, "StatefulSet", name)["containers"]}
        assert "valkey/valkey:8.1.4" in images, f"StatefulSet {name}: {images}"
        assert not any(i.startswith("redis:") for i in images), f"StatefulSet {name}: {images}"
