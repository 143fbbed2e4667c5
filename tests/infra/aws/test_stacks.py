"""Each AWS stack file evaluates under mocks, and every secure and HA default holds on it."""

from __future__ import annotations

import json

import pytest

from infra.backends.aws.auth import ALLOWED_SPECIALS
from infra.backends.aws.settings import POLICIES
from infra.backends.aws.values import windows_overlap
from infra.outputs import ENV_MAP_OUTPUT
from infra.settings import Environment

from ..harness import Declared, Run, Secret, client_view, evaluated, misflagged_outputs, run_program
from ..stack_config import section, stack_file

AWS_STACKS = ("staging-aws", "prod-aws")
RG = "aws:elasticache/replicationGroup:ReplicationGroup"
COMPONENT = "aragora-redis:aws:ElastiCacheRedis"
STATEFUL = (
    RG,
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:secretsmanager/secret:Secret",
)
FIVE_METRICS = {
    "EngineCPUUtilization",
    "DatabaseMemoryUsagePercentage",
    "Evictions",
    "ReplicationLag",
    "CurrConnections",
}


@pytest.fixture(scope="module", params=AWS_STACKS)
def deployed(request: pytest.FixtureRequest) -> tuple[str, dict[str, object], Run]:
    stack: str = request.param
    config = stack_file(stack)
    return stack, config, evaluated(run_program(config, stack), stack)


def environment(config: dict[str, object]) -> Environment:
    return next(e for e in POLICIES if e == config["aragora-redis:environment"])


def group(run: Run) -> Declared:
    return run.one(RG)


def test_every_resource_is_a_descendant_of_the_component(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    outside = deployed[2].not_under(COMPONENT)
    assert outside == [], f"not under the component: {outside}"


def test_transit_encryption_is_required(deployed: tuple[str, dict[str, object], Run]) -> None:
    rg = group(deployed[2])
    assert rg.inputs["transitEncryptionEnabled"] is True, f"{rg}: transit encryption off"
    assert rg.inputs["transitEncryptionMode"] == "required", f"{rg}: TLS not required"


def test_encryption_at_rest(deployed: tuple[str, dict[str, object], Run]) -> None:
    _, config, run = deployed
    rg = group(run)
    assert rg.inputs["atRestEncryptionEnabled"] is True, f"{rg}: no encryption at rest"
    assert rg.inputs.get("kmsKeyId") == section(config, "aws").get("kmsKeyId"), f"{rg}: KMS key"


def test_multi_az_automatic_failover_and_node_count(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    _, config, run = deployed
    rg = group(run)
    replicas = section(config, "aws").get(
        "replicas", POLICIES[environment(config)].defaults["replicas"]
    )
    assert rg.inputs["automaticFailoverEnabled"] is True, f"{rg}: no automatic failover"
    assert rg.inputs["multiAzEnabled"] is True, f"{rg}: not Multi-AZ"
    assert rg.inputs["clusterMode"] == "disabled"
    nodes = rg.inputs["numCacheClusters"]
    assert nodes == 1 + int(str(replicas)) >= 2, f"{rg}: {nodes} nodes"
    if environment(config) == "prod":
        assert nodes >= 3, f"{rg}: prod has {nodes} nodes"
    azs = rg.inputs["preferredCacheClusterAzs"]
    assert len(azs) == nodes, f"{rg}: AZs {azs}"
    assert len(set(azs)) >= 2, f"{rg}: AZs {azs}"
    assert azs[1] != azs[0], f"{rg}: first replica in the primary's AZ {azs[0]}"


def test_replication_group_id_fits_40_characters(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    rg = group(deployed[2])
    assert len(rg.inputs["replicationGroupId"]) <= 40, f"{rg}: id too long"


def test_parameter_group_named_with_its_family(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    run = deployed[2]
    pg = run.one("aws:elasticache/parameterGroup:ParameterGroup")
    family = pg.inputs["family"]
    assert family == "redis7", f"{pg}: family {family}"
    assert family in pg.inputs["name"], f"{pg}: name {pg.inputs['name']} lacks {family}"
    params = {p["name"]: p["value"] for p in pg.inputs["parameters"]}
    assert params == {"maxmemory-policy": "volatile-ttl"}, f"{pg}: {params}"
    assert group(run).inputs["parameterGroupName"] == pg.inputs["name"]


def test_network_is_private_and_ingress_only_from_listed_sources(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    _, config, run = deployed
    aws = section(config, "aws")
    subnets = run.one("aws:elasticache/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == aws["subnetIds"], f"{subnets}"
    assert group(run).inputs["subnetGroupName"] == subnets.inputs["name"], "subnet group"
    sg = run.one("aws:ec2/securityGroup:SecurityGroup")
    assert not sg.inputs.get("ingress"), f"{sg}: inline ingress"
    assert not sg.inputs.get("egress"), f"{sg}: egress"
    rules = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules, "no ingress rule"
    for rule in rules:
        assert rule.inputs.get("cidrIpv4") not in ("0.0.0.0/0",), f"{rule}: open to the world"
        assert rule.inputs.get("cidrIpv6") is None, f"{rule}: IPv6 source"
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
            "tcp",
            6379,
            6379,
        ), f"{rule}: not the engine port only"
    sources = sorted(r.inputs["referencedSecurityGroupId"] for r in rules)
    assert sources == sorted(aws["allowedSecurityGroupIds"]), f"ingress sources {sources}"
    assert group(run).inputs["securityGroupIds"] == [f"{sg.name}-id"]


def test_snapshots_and_windows(deployed: tuple[str, dict[str, object], Run]) -> None:
    _, config, run = deployed
    rg = group(run)
    env = environment(config)
    retention = rg.inputs["snapshotRetentionLimit"]
    assert retention >= POLICIES[env].min_snapshot_retention_days >= 1, f"{rg}: {retention} days"
    assert rg.inputs["finalSnapshotIdentifier"].startswith(f"{rg.name}-final-"), f"{rg}"
    snapshot, maintenance = rg.inputs["snapshotWindow"], rg.inputs["maintenanceWindow"]
    assert not windows_overlap(snapshot, maintenance), f"{rg}: {snapshot} meets {maintenance}"


def test_apply_immediately_never_in_prod(deployed: tuple[str, dict[str, object], Run]) -> None:
    _, config, run = deployed
    rg = group(run)
    expected = environment(config) != "prod"
    assert rg.inputs["applyImmediately"] is expected, f"{rg}: applyImmediately"


def test_prod_protects_its_stateful_resources(deployed: tuple[str, dict[str, object], Run]) -> None:
    _, config, run = deployed
    prod = environment(config) == "prod"
    stateful = [r for r in run.resources if r.type in STATEFUL]
    assert {r.type for r in stateful} >= {RG, "aws:cloudwatch/logGroup:LogGroup"}
    for resource in stateful:
        assert resource.protect is prod, f"{resource}: protect={resource.protect}"
    # A new credential replaces these; protected, they would block every rotation.
    rotating = (
        "random:index/randomPassword:RandomPassword",
        "aws:secretsmanager/secretVersion:SecretVersion",
    )
    for resource in run.resources:
        if resource.type in rotating:
            assert not resource.protect, f"{resource}: protected, so it cannot rotate"


def test_logs_delivered_to_log_groups_with_retention(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    _, config, run = deployed
    expected_days = section(config, "aws").get(
        "logRetentionDays", POLICIES[environment(config)].defaults["logRetentionDays"]
    )
    groups = {g.inputs["name"]: g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for log_group in groups.values():
        assert log_group.inputs["retentionInDays"] == expected_days, f"{log_group}: retention"
    delivery = group(run).inputs["logDeliveryConfigurations"]
    assert sorted(d["logType"] for d in delivery) == ["engine-log", "slow-log"]
    for d in delivery:
        assert d["destinationType"] == "cloudwatch-logs", f"{d}"
        assert d["destination"] in groups, f"{d}"


def test_five_alarms_on_every_member(deployed: tuple[str, dict[str, object], Run]) -> None:
    _, config, run = deployed
    rg = group(run)
    topic = section(config, "aws").get("alarmTopicArn")
    members = {f"{rg.name}-{n:03d}" for n in range(1, int(rg.inputs["numCacheClusters"]) + 1)}
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    seen = set()
    for alarm in alarms:
        metrics = [q["metric"] for q in alarm.inputs["metricQueries"] if "metric" in q]
        names = {m["metricName"] for m in metrics}
        assert len(names) == 1, f"{alarm}: {names}"
        seen |= names
        watched = {m["dimensions"]["CacheClusterId"] for m in metrics}
        assert watched == members, f"{alarm}: watches {watched}"
        assert alarm.inputs["alarmActions"] == [topic], f"{alarm}: actions"
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        if names == {"DatabaseMemoryUsagePercentage"}:
            assert alarm.inputs["threshold"] == 90, f"{alarm}: threshold"
    assert len(alarms) == 5, f"{len(alarms)} alarms"
    assert seen == FIVE_METRICS, f"alarms on {seen}"


def test_auth_token_is_random_and_acceptable_to_elasticache(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    run = deployed[2]
    password = run.one("random:index/randomPassword:RandomPassword")
    assert 16 <= password.inputs["length"] <= 128, f"{password}: length"
    assert set(password.inputs["overrideSpecial"]) <= set(ALLOWED_SPECIALS), f"{password}"
    rg = group(run)
    assert rg.inputs["authToken"] == Secret(password.inputs["result"]), f"{rg}: token not secret"
    assert rg.inputs["authTokenUpdateStrategy"] == "ROTATE", f"{rg}: strategy"
    assert "userGroupIds" not in rg.inputs, f"{rg}: both token and RBAC"


def test_outputs_round_trip_through_the_client(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    run = deployed[2]
    env, settings = client_view(run)
    rg = group(run)
    assert settings.mode == "standalone"
    assert settings.ssl
    assert settings.ssl_cert_reqs == "required"
    assert (settings.host, settings.port) == (rg.inputs["primaryEndpointAddress"], 6379)
    assert settings.password is not None
    assert Secret(settings.password.get_secret_value()) == rg.inputs["authToken"]
    assert env["ARAGORA_REDIS_URL"] == env["REDIS_URL"]
    assert env["REDIS_URL"].startswith("rediss://")


def test_credential_outputs_are_secret_and_the_rest_are_not(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    run = deployed[2]
    assert misflagged_outputs(run) == []
    assert {"ARAGORA_REDIS_PASSWORD", "ARAGORA_REDIS_URL", "REDIS_URL"} <= run.outputs.keys()


def test_prod_publishes_the_env_to_secrets_manager(
    deployed: tuple[str, dict[str, object], Run],
) -> None:
    _, config, run = deployed
    name = section(config, "aws").get("secretName")
    if name is None:
        assert not run.of_type("aws:secretsmanager/secret:Secret")
        return
    secret = run.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["name"] == name, f"{secret}"
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion")
    payload = version.inputs["secretString"]
    assert isinstance(payload, Secret), f"{version}: secret string not secret"
    assert json.loads(payload.value) == run.outputs[ENV_MAP_OUTPUT].value
