"""The AWS backend's options: cluster mode, RBAC, credential rotation, Valkey, CIDR sources, dev."""

from __future__ import annotations

from typing import Any

from aragora_redis import HostPort, RedisSettings
from aragora_redis.acl import access_rules
from infra.backends.aws.auth import APP_ACCESS_STRING, ID_LIMIT
from infra.outputs import ENV_MAP_OUTPUT
from infra.settings import StackConfigError

from ..harness import Run, Secret, evaluated, run_program
from ..stack_config import aws, changed

RG = "aws:elasticache/replicationGroup:ReplicationGroup"
PASSWORD = "random:index/randomPassword:RandomPassword"
USER = "aws:elasticache/user:User"


def staging(**changes: Any) -> Run:
    return evaluated(run_program(changed("staging-aws", changes), "staging-aws"))


def contract(run: Run) -> RedisSettings:
    env = run.outputs[ENV_MAP_OUTPUT].value
    settings = RedisSettings.from_env(env)
    assert settings.to_env() == env
    return settings


def test_cluster_mode_exports_the_configuration_endpoint() -> None:
    run = staging(**aws(mode="cluster", shards=3, replicas=2))
    rg = run.one(RG)
    assert rg.inputs["clusterMode"] == "enabled", f"{rg}"
    assert (rg.inputs["numNodeGroups"], rg.inputs["replicasPerNodeGroup"]) == (3, 2), f"{rg}"
    assert "numCacheClusters" not in rg.inputs, f"{rg}: both topologies"
    # Explicit node group configurations would make adding a shard replace the group.
    assert "nodeGroupConfigurations" not in rg.inputs, f"{rg}: resharding would replace it"
    assert rg.inputs["multiAzEnabled"] is True, f"{rg}"
    params = run.one("aws:elasticache/parameterGroup:ParameterGroup").inputs["parameters"]
    assert {"name": "cluster-enabled", "value": "yes"} in params
    settings = contract(run)
    host = rg.inputs["configurationEndpointAddress"]
    assert settings.mode == "cluster"
    assert settings.cluster_nodes == (HostPort(host, 6379),)
    assert run.outputs["ARAGORA_REDIS_CLUSTER_NODES"].value == f"{host}:6379"


def test_large_clusters_get_one_alarm_per_ten_members() -> None:
    run = staging(**aws(mode="cluster", shards=4, replicas=2))
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 10, [a.name for a in alarms]
    watched: dict[str, set[str]] = {}
    for alarm in alarms:
        metrics = [q["metric"] for q in alarm.inputs["metricQueries"] if "metric" in q]
        assert len(metrics) <= 10, f"{alarm}: {len(metrics)} metrics"
        name = metrics[0]["metricName"]
        watched.setdefault(name, set()).update(m["dimensions"]["CacheClusterId"] for m in metrics)
    for name, members in watched.items():
        assert len(members) == 12, f"{name} alarms watch {len(members)} of 12 nodes"
    assert "aragora-staging-0004-003" in watched["ReplicationLag"]


def test_rbac_user_is_limited_to_aragora_keys_and_the_client_commands() -> None:
    run = staging(**aws(authMode="rbac", username="aragora-app"))
    users = {u.inputs["userName"]: u for u in run.of_type(USER)}
    assert set(users) == {"default", "aragora-app"}
    assert users["default"].inputs["accessString"].startswith("off "), "default user enabled"
    app = users["aragora-app"].inputs["accessString"]
    assert app == APP_ACCESS_STRING
    assert app == f"on {access_rules()}", app
    assert app.startswith("on ~aragora:* &aragora:* "), app
    assert " -@all " in app, app
    for user in users.values():
        assert len(user.inputs["userId"]) <= ID_LIMIT, f"{user}: id too long"
        auth = user.inputs["authenticationMode"]
        assert isinstance(auth, Secret), f"{user}: password not secret"
        assert auth.value["type"] == "password", f"{user}"
    group = run.one("aws:elasticache/userGroup:UserGroup")
    assert sorted(group.inputs["userIds"]) == sorted(u.inputs["userId"] for u in users.values())
    rg = run.one(RG)
    assert rg.inputs["userGroupIds"] == [group.inputs["userGroupId"]], f"{rg}"
    assert "authToken" not in rg.inputs, f"{rg}: both RBAC and a token"
    settings = contract(run)
    assert settings.username == "aragora-app"
    assert run.outputs["ARAGORA_REDIS_URL"].value.startswith("rediss://aragora-app:")
    assert run.outputs["ARAGORA_REDIS_URL"].secret


def test_token_rotation_keeps_the_previous_token_until_set() -> None:
    rotating = staging(**aws(authVersion=2))
    names = sorted(p.name for p in rotating.of_type(PASSWORD))
    assert names == ["aragora-staging-auth-v1", "aragora-staging-auth-v2"]
    assert rotating.one(RG).inputs["authTokenUpdateStrategy"] == "ROTATE"
    done = staging(**aws(authVersion=2, authUpdateStrategy="SET"))
    assert [p.name for p in done.of_type(PASSWORD)] == ["aragora-staging-auth-v2"]
    assert done.one(RG).inputs["authTokenUpdateStrategy"] == "SET"


def test_rbac_rotation_gives_the_user_both_passwords_until_set() -> None:
    def app_passwords(run: Run) -> int:
        app = next(u for u in run.of_type(USER) if u.inputs["userName"] == "aragora")
        auth = app.inputs["authenticationMode"]
        assert isinstance(auth, Secret)
        return len(auth.value["passwords"])

    assert app_passwords(staging(**aws(authMode="rbac", authVersion=3))) == 2
    assert (
        app_passwords(staging(**aws(authMode="rbac", authVersion=3, authUpdateStrategy="SET"))) == 1
    )


def test_valkey_gets_its_own_parameter_family() -> None:
    run = staging(**aws(engine="valkey"))
    rg = run.one(RG)
    assert (rg.inputs["engine"], rg.inputs["engineVersion"]) == ("valkey", "8.0"), f"{rg}"
    pg = run.one("aws:elasticache/parameterGroup:ParameterGroup")
    assert pg.inputs["family"] == "valkey8"
    assert pg.inputs["name"] == "aragora-staging-valkey8"


def test_private_cidrs_become_ingress_rules_on_the_engine_port() -> None:
    run = staging(**aws(allowedSecurityGroupIds=None, allowedCidrs=["10.20.0.0/16"], port=6380))
    rule = run.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.inputs["cidrIpv4"] == "10.20.0.0/16", f"{rule}"
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (6380, 6380), f"{rule}"
    assert contract(run).port == 6380


def test_dev_defaults_are_small_but_still_highly_available() -> None:
    config = changed("staging-aws", {"environment": "dev"})
    run = run_program(config, "dev-aws")
    assert run.error is None, repr(run.error)
    rg = run.one(RG)
    assert rg.inputs["nodeType"] == "cache.t4g.small"
    assert rg.inputs["numCacheClusters"] == 2
    assert rg.inputs["multiAzEnabled"] is True
    assert not any(r.protect for r in run.resources), "dev resources protected"
    assert rg.name == "aragora-dev"


def test_prod_without_an_alarm_topic_warns() -> None:
    run = run_program(changed("prod-aws", aws(alarmTopicArn=None)), "prod-aws")
    assert run.error is None, repr(run.error)
    assert any("alarmTopicArn" in w for w in run.warnings), run.warnings
    alarm = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")[0]
    assert alarm.inputs["alarmActions"] == [], f"{alarm}"


def test_client_settings_reach_the_outputs() -> None:
    run = staging(**{"client.sessionTtls": {"debate": 7200}, "client.maxConnections": 20})
    settings = contract(run)
    assert settings.session_ttl_overrides == {"debate": 7200}
    assert settings.max_connections == 20
    assert run.outputs["ARAGORA_SESSION_DEBATE_TTL"].value == "7200"
    assert settings.rate_limit_fail_open, "staging stack file sets rateLimitFailOpen"


def test_a_kms_key_of_another_region_is_named_before_any_resource() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    run = run_program(changed("prod-aws", {"aws.kmsKeyId": key}), "prod-aws")
    assert isinstance(run.error, StackConfigError), repr(run.error)
    assert run.error.keys == ("aragora-redis:aws.kmsKeyId",)
    assert "aws:region us-east-1" in str(run.error)
    assert not run.resources
