"""The sentinel-k8s stack file evaluates under mocks; every object is a valid Kubernetes manifest
and holds the HA and security rules; the outputs are the contract with secrets kept secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aragora_redis import HostPort, RedisSettings
from infra.outputs import CA_PEM_OUTPUT, CREDENTIAL_VARIABLES, ENV_MAP_OUTPUT

from ..harness import Declared, Secret, client_view, evaluated
from ..k8s_mocks import (
    COMPONENT,
    FAKE_CA,
    PASSWORD,
    K8sRun,
    manifest,
    meta_name,
    passwords,
    run_k8s,
    validate,
)
from ..stack_config import section, stack_file

STACK = "dev-sentinel"
BASE = "aragora-dev"
WORKLOADS = ("StatefulSet", "Deployment")


@pytest.fixture(scope="module")
def deployed() -> tuple[dict[str, Any], K8sRun]:
    config = stack_file(STACK)
    return config, evaluated(run_k8s(config, STACK), STACK)


def k8s_section(config: dict[str, Any]) -> dict[str, Any]:
    return section(config, "sentinel-k8s")


def pod_spec(resource: Declared) -> dict[str, Any]:
    spec: dict[str, Any] = resource.inputs["spec"]["template"]["spec"]
    return spec


def containers(resource: Declared) -> list[dict[str, Any]]:
    spec = pod_spec(resource)
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_every_object_is_valid_against_the_kubernetes_schema(
    deployed: tuple[dict[str, Any], K8sRun],
) -> None:
    run = deployed[1]
    kinds = set()
    for resource in run.objects():
        if resource.inputs["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: no schema in kubernetes-validate, checked below
        try:
            validate(resource)
        except Exception as exc:
            pytest.fail(f"{resource}: {exc}")
        kinds.add(resource.inputs["kind"])
    expected = {"ConfigMap", "Secret", "Service", "StatefulSet", "Deployment",
                "PodDisruptionBudget", "NetworkPolicy"}  # fmt: skip
    assert kinds == expected, kinds


def test_every_resource_is_under_the_component(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    component = run.one(COMPONENT)
    assert component.name == BASE
    for resource in run.resources:
        # The harness sees the parent of registrations only, not of reads.
        if resource is not component and resource.name not in run.reads:
            assert resource.parent == component.urn, f"{resource} is not a child of the component"


def test_objects_live_in_the_configured_namespace(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    config, run = deployed
    namespace = k8s_section(config)["namespace"]
    assert not run.of_kind("Namespace"), "createNamespace is false in the stack file"
    for resource in run.objects():
        assert resource.inputs["metadata"]["namespace"] == namespace, f"{resource}: namespace"


def test_three_data_pods_in_order_with_aof_on_volumes(
    deployed: tuple[dict[str, Any], K8sRun],
) -> None:
    config, run = deployed
    redis = run.object("StatefulSet", f"{BASE}-redis")
    spec = redis.inputs["spec"]
    assert spec["replicas"] == k8s_section(config)["replicas"] + 1 == 3, f"{redis}: replicas"
    assert spec["podManagementPolicy"] == "OrderedReady", f"{redis}: ordered start"
    assert spec["serviceName"] == f"{BASE}-redis-headless", f"{redis}: headless service"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == k8s_section(config)["storageSize"]
    mounts = {m["name"]: m["mountPath"] for c in containers(redis) for m in c["volumeMounts"]}
    assert mounts["data"] == "/data", f"{redis}: the claim holds /data (dir of redis.conf)"
    headless = run.object("Service", f"{BASE}-redis-headless")
    assert headless.inputs["spec"]["clusterIP"] == "None", f"{headless}: headless"
    assert headless.inputs["spec"]["publishNotReadyAddresses"] is True, f"{headless}: DNS early"


def test_sentinels_and_their_service(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    sentinels = run.object("StatefulSet", f"{BASE}-sentinel")
    assert sentinels.inputs["spec"]["replicas"] == 3, f"{sentinels}: replicas"
    (init,) = pod_spec(sentinels)["initContainers"]
    assert init["command"][-1].endswith("init-sentinel.sh"), f"{sentinels}: writable config"
    service = run.object("Service", f"{BASE}-sentinel")
    assert [p["port"] for p in service.inputs["spec"]["ports"]] == [26379], f"{service}: ports"
    haproxy = run.object("Service", f"{BASE}-haproxy")
    assert 6379 in [p["port"] for p in haproxy.inputs["spec"]["ports"]], f"{haproxy}: 6379"
    deployment = run.object("Deployment", f"{BASE}-haproxy")
    assert deployment.inputs["spec"]["replicas"] == 2, f"{deployment}: replicas"


def test_hard_anti_affinity_and_zone_spread(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    for kind in WORKLOADS:
        for workload in run.of_kind(kind):
            spec = pod_spec(workload)
            labels = workload.inputs["spec"]["selector"]["matchLabels"]
            terms = spec["affinity"]["podAntiAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]
            assert [t["topologyKey"] for t in terms] == ["kubernetes.io/hostname"], (
                f"{workload}: anti-affinity per node"
            )
            assert terms[0]["labelSelector"]["matchLabels"] == labels, f"{workload}: own pods"
            (spread,) = spec["topologySpreadConstraints"]
            assert spread["topologyKey"] == "topology.kubernetes.io/zone", f"{workload}: zones"
            assert spread["whenUnsatisfiable"] == "ScheduleAnyway", f"{workload}: preferred"


def test_a_disruption_budget_per_workload(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    budgets = {
        json.dumps(b.inputs["spec"]["selector"]["matchLabels"], sort_keys=True): b
        for b in run.of_kind("PodDisruptionBudget")
    }
    for kind in WORKLOADS:
        for workload in run.of_kind(kind):
            key = json.dumps(workload.inputs["spec"]["selector"]["matchLabels"], sort_keys=True)
            assert key in budgets, f"{workload}: no PodDisruptionBudget selects its pods"
            assert budgets[key].inputs["spec"]["maxUnavailable"] == 1, f"{budgets[key]}"
    assert len(budgets) == 4


def test_probes_resources_and_security_context(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    for kind in WORKLOADS:
        for workload in run.of_kind(kind):
            pod = pod_spec(workload)["securityContext"]
            assert pod["runAsNonRoot"] is True, f"{workload}: runAsNonRoot"
            assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, f"{workload}: seccomp"
            assert pod_spec(workload)["automountServiceAccountToken"] is False, f"{workload}"
            init = {c["name"] for c in pod_spec(workload).get("initContainers", [])}
            for container in containers(workload):
                where = f"{workload} container {container['name']}"
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True, f"{where}: read-only root"
                assert security["allowPrivilegeEscalation"] is False, f"{where}: escalation"
                assert security["capabilities"] == {"drop": ["ALL"]}, f"{where}: capabilities"
                assert security["runAsNonRoot"] is True, f"{where}: runAsNonRoot"
                resources = container["resources"]
                assert set(resources) == {"requests", "limits"}, f"{where}: resources"
                for part in ("requests", "limits"):
                    assert set(resources[part]) == {"cpu", "memory"}, f"{where}: {part}"
                if container["name"] not in init:
                    assert "readinessProbe" in container, f"{where}: readiness probe"
                    assert "livenessProbe" in container, f"{where}: liveness probe"


def test_images_are_official_and_pinned(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    images = {c["image"] for k in WORKLOADS for w in run.of_kind(k) for c in containers(w)}
    assert images == {
        "redis:7.4.2",
        "oliver006/redis_exporter:v1.67.0",
        "haproxy:3.0.5",
        "aragora-redis-fencer:0.1.0",  # the operator's, built from client/
    }
    assert not any("bitnami" in image for image in images)


def test_network_policy_admits_only_the_app_namespace(
    deployed: tuple[dict[str, Any], K8sRun],
) -> None:
    config, run = deployed
    (policy,) = run.of_kind("NetworkPolicy")
    spec = policy.inputs["spec"]
    assert spec["policyTypes"] == ["Ingress"], f"{policy}: ingress is restricted"
    selected = spec["podSelector"]["matchLabels"]
    for kind in WORKLOADS:
        for workload in run.of_kind(kind):
            labels = workload.inputs["spec"]["template"]["metadata"]["labels"]
            assert selected.items() <= labels.items(), f"{policy} does not cover {workload}"
    own, clients, metrics = spec["ingress"]
    assert own == {"from": [{"podSelector": {"matchLabels": selected}}]}, f"{policy}: own pods"
    namespaces = [p["namespaceSelector"]["matchLabels"] for p in clients["from"]]
    assert namespaces == [
        {"kubernetes.io/metadata.name": ns} for ns in k8s_section(config)["allowedNamespaces"]
    ], f"{policy}: client namespaces"
    assert sorted(p["port"] for p in clients["ports"]) == [6379, 26379], f"{policy}: ports"
    assert [p["namespaceSelector"]["matchLabels"] for p in metrics["from"]] == [
        {"kubernetes.io/metadata.name": "monitoring"}
    ]
    assert sorted(p["port"] for p in metrics["ports"]) == [8404, 9121], f"{policy}: metrics"


def test_tls_from_the_existing_secret(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    config, run = deployed
    secret_name = k8s_section(config)["tlsSecretName"]
    for kind in WORKLOADS:
        for workload in run.of_kind(kind):
            volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
            assert volumes["tls"]["secret"]["secretName"] == secret_name, f"{workload}: TLS"
    conf = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    for name in ("redis-0.conf", "sentinel-0.conf"):
        lines = conf[name].splitlines()
        assert "port 0" in lines, f"{name}: a plain port"
        assert {"tls-port 6379", "tls-port 26379"} & set(lines), f"{name}: no TLS port"
    assert "ca-file /tls/ca.crt" in conf["haproxy.cfg"]


def test_prometheus_rule_from_the_rules_file(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    from infra.backends.sentinel_k8s.monitoring import load_rules

    run = deployed[1]
    (rule,) = run.of_kind("PrometheusRule")
    assert rule.inputs["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule.inputs["spec"] == load_rules(), f"{rule}: the rules file's groups"
    assert rule.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"] for g in rule.inputs["spec"]["groups"] for r in g["rules"]}
    assert {"RedisDown"} <= alerts
    (monitor,) = run.of_kind("PodMonitor")
    assert "redis" in meta_name(monitor), "the rules' job regex .*redis.* must match"
    (endpoint,) = monitor.inputs["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics", f"{monitor}: scrapes the exporters and HAProxy"
    ports = {
        p["name"]
        for kind in WORKLOADS
        for w in run.of_kind(kind)
        for c in containers(w)
        for p in c.get("ports", [])
    }
    assert "metrics" in ports


def test_outputs_round_trip_through_the_client(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    config, run = deployed
    env, settings = client_view(run, CA_PEM_OUTPUT)
    assert settings.mode == "sentinel"
    assert settings.ssl
    assert settings.ssl_cert_reqs == "required"
    namespace = k8s_section(config)["namespace"]
    haproxy = f"{BASE}-haproxy.{namespace}.svc.cluster.local"
    assert (settings.host, settings.port) == (haproxy, 6379), "the URL reaches HAProxy"
    assert env["REDIS_URL"] == env["ARAGORA_REDIS_URL"]
    assert env["REDIS_URL"].startswith("rediss://:")
    assert env["REDIS_URL"].endswith(f"@{haproxy}:6379/0")
    headless = f"{BASE}-sentinel-headless.{namespace}.svc.cluster.local"
    assert settings.sentinel_hosts == tuple(
        HostPort(f"{BASE}-sentinel-{i}.{headless}", 26379) for i in range(3)
    )
    assert settings.sentinel_master == "aragora-master"
    redis_password, sentinel_password = passwords(run)
    assert settings.password is not None
    assert settings.sentinel_password is not None
    assert settings.password.get_secret_value() == redis_password
    assert settings.sentinel_password.get_secret_value() == sentinel_password


def test_ca_output_is_the_certificates_ca(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    pem = run.outputs[CA_PEM_OUTPUT]
    assert pem.value == FAKE_CA
    assert not pem.secret, "the CA is public"


def test_secrets_are_secret_and_in_no_config_map(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    run = deployed[1]
    secret_values = list(passwords(run))
    for name, output in run.outputs.items():
        secret = name in CREDENTIAL_VARIABLES or name == ENV_MAP_OUTPUT
        assert output.secret is secret, f"output {name}: secret={output.secret}"
        if not secret:
            for value in secret_values:
                assert value not in json.dumps(output.value), f"output {name} holds a password"
    auth = run.object("Secret", f"{BASE}-auth")
    assert isinstance(auth.inputs["stringData"], Secret), f"{auth}: stringData is not secret"
    for resource in run.objects():
        if resource is auth:
            continue
        text = json.dumps(manifest(resource))
        for value in secret_values:
            assert value not in text, f"{resource} holds a password"
    data = auth.inputs["stringData"].value
    assert (data["redis-password"], data["sentinel-password"]) == tuple(secret_values)


def test_password_inputs_never_change(deployed: tuple[dict[str, Any], K8sRun]) -> None:
    # A changed input makes RandomPassword generate a new password on the next `pulumi up`,
    # which the running pods would not know: these values are part of the deployed state.
    run = deployed[1]
    for password in run.of_type(PASSWORD):
        computed = ("result", "arn", "name")  # added by the mocks
        inputs = {k: v for k, v in password.inputs.items() if k not in computed}
        assert inputs == {
            "length": 32,
            "special": True,
            "overrideSpecial": "-_.+=!#%^~",
            "minLower": 1,
            "minUpper": 1,
            "minNumeric": 1,
            "minSpecial": 1,
        }, f"{password}: {inputs}"
    names = sorted(r.name for r in run.of_type(PASSWORD))
    assert names == [f"{BASE}-redis-password", f"{BASE}-sentinel-password"]


def test_the_certificate_names_cover_every_address_a_client_or_node_dials(
    deployed: tuple[dict[str, Any], K8sRun],
) -> None:
    from infra.backends.sentinel_k8s.names import Names

    config, run = deployed
    names = Names(BASE, k8s_section(config)["namespace"]).certificate_dns_names
    settings = RedisSettings.from_env(run.outputs[ENV_MAP_OUTPUT].value)
    conf = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    data_pods = [
        line.split()[2].rsplit(":", 1)[0]
        for line in conf["haproxy.cfg"].splitlines()
        if line.strip().startswith("server ")
    ]
    dialed = [settings.host, *(h.host for h in settings.sentinel_hosts), *data_pods]
    assert len(dialed) == 7
    for host in dialed:
        assert any(covers(name, host) for name in names), f"no certificate name covers {host}"


def covers(name: str, host: str) -> bool:
    """A certificate DNS name matches ``host`` (a wildcard stands for exactly one label)."""
    if name.startswith("*."):
        return host.split(".", 1)[1] == name[2:] and "." not in host.split(".", 1)[0]
    return name == host


def test_the_fencing_watcher_reads_the_contract_with_secrets_by_reference(
    deployed: tuple[dict[str, Any], K8sRun],
) -> None:
    config, run = deployed
    fencing = run.object("Deployment", f"{BASE}-fencing")
    assert fencing.inputs["spec"]["replicas"] == 1, f"{fencing}: one watcher"
    (container,) = pod_spec(fencing)["containers"]
    assert container["command"] == ["python", "-m", "aragora_redis._fencer_main", "--env"]
    env = {e["name"]: e for e in container["env"]}
    hosts = env["ARAGORA_REDIS_SENTINEL_HOSTS"]["value"].split(",")
    assert hosts == [
        f"{BASE}-sentinel-{i}.{BASE}-sentinel-headless.aragora-redis-dev.svc.cluster.local:26379"
        for i in range(3)
    ]
    assert env["ARAGORA_REDIS_SENTINEL_MASTER"]["value"] == k8s_section(config)["masterName"]
    for name, key in (
        ("ARAGORA_REDIS_PASSWORD", "redis-password"),
        ("ARAGORA_REDIS_SENTINEL_PASSWORD", "sentinel-password"),
    ):
        assert "value" not in env[name], f"{fencing}: {name} in clear"
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{BASE}-auth", "key": key}
    assert env["ARAGORA_REDIS_SSL"]["value"] == "true"
    assert env["ARAGORA_REDIS_SSL_CA_CERTS"]["value"] == "/tls/ca.crt"
    tls = {v["name"]: v for v in pod_spec(fencing)["volumes"]}["tls"]["secret"]
    assert tls["items"] == [{"key": "ca.crt", "path": "ca.crt"}], "only the CA, no server key"
    from aragora_redis._fencer_main import env_source

    plain = {k: e["value"] for k, e in env.items() if "value" in e}
    with pytest.raises(Exception, match="ARAGORA_REDIS_SSL_CA_CERTS"):
        env_source(plain)  # the CA file exists in the pod only: the env parses up to it


def test_the_network_policy_admits_the_fencer_to_sentinels_and_data_pods(
    deployed: tuple[dict[str, Any], K8sRun],
) -> None:
    run = deployed[1]
    (policy,) = run.of_kind("NetworkPolicy")
    own = policy.inputs["spec"]["ingress"][0]
    fencing = run.object("Deployment", f"{BASE}-fencing")
    labels = fencing.inputs["spec"]["template"]["metadata"]["labels"]
    (peer,) = own["from"]
    assert peer["podSelector"]["matchLabels"].items() <= labels.items()
    assert "ports" not in own, "own pods reach every port: 6379 and 26379 included"
