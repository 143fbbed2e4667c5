"""Each invalid config stops the program before any resource is declared.

The error names the config key, shows the value and says what is allowed.
"""

from __future__ import annotations

from typing import get_args

import pulumi
import pytest

from infra.backends import BACKENDS
from infra.settings import BackendName, StackConfigError

from .harness import ErrorCase as Case
from .harness import case_ids, run_program
from .stack_config import aws, changed, stack_file

#: The stack a case changes unless it names another.
STAGING = "staging-aws"
STAGING_SUBNETS = stack_file(STAGING)["aragora-redis:aws"]["subnetIds"]
STAGING_VPC = stack_file(STAGING)["aragora-redis:aws"]["vpcId"]

CASES = [
    Case("unknown backend", {"backend": "gcpp"}, "aragora-redis:backend",
         ("'gcpp'", "'aws', 'gcp', 'azure', 'azure-managed' or 'sentinel-k8s'")),
    Case("backend without its section", {"backend": "sentinel-k8s"},
         "aragora-redis:sentinel-k8s.allowedNamespaces", ("got []", "allowedPodLabels")),
    Case("no environment", {"environment": None}, "aragora-redis:environment",
         ("got nothing", "required")),
    Case("unknown environment", {"environment": "production"},
         "aragora-redis:environment", ("'production'", "'dev', 'staging' or 'prod'")),
    Case("name too long", {"name": "a" * 41}, "aragora-redis:name",
         ("'" + "a" * 41 + "'", "2 to 40 lowercase")),
    Case("TLS off in prod", {"tls": "false"}, "aragora-redis:tls",
         ("got False", "true (prod"), "prod-aws"),
    Case("TLS off on AWS", {"tls": "false"}, "aragora-redis:tls",
         ("got False", "only over TLS")),
    Case("tags not an object", {"tags": "team=aragora"}, "aragora-redis:tags",
         ("'team=aragora'", "an object")),
    Case("bad client timeout", {"client.socketTimeout": -1},
         "aragora-redis:client.socketTimeout", ("-1", "seconds above 0")),
    Case("bad session TTL", {"client.sessionTtls": {"debate": 0}},
         "aragora-redis:client.sessionTtls.debate", ("got 0", "1 to")),
    Case("aws section not an object", {"aws": "cache.r7g.large"},
         "aragora-redis:aws", ("'cache.r7g.large'", "an object")),
    Case("unknown aws key", aws(nodeTyp="cache.r7g.large"), "aragora-redis:aws",
         ("got ['nodeTyp']", "only these keys: alarmTopicArn, alarms,")),
    Case("no vpc", aws(vpcId=None), "aragora-redis:aws.vpcId", ("required",)),
    Case("replicas below prod minimum", aws(replicas=1), "aragora-redis:aws.replicas",
         ("got 1", "2 to 5 replicas per primary in prod"), "prod-aws"),
    Case("no replica", aws(replicas=0), "aragora-redis:aws.replicas",
         ("got 0", "1 to 5")),
    Case("not a cache node type", aws(nodeType="r7g.large"),
         "aragora-redis:aws.nodeType", ("'r7g.large'", "cache.<family>.<size>")),
    Case("t1 node type", aws(nodeType="cache.t1.micro"),
         "aragora-redis:aws.nodeType", ("'cache.t1.micro'", "not cache.t1")),
    Case("snapshot retention below prod minimum", aws(snapshotRetentionDays=3),
         "aragora-redis:aws.snapshotRetentionDays", ("got 3", "7 to 35 days in prod"), "prod-aws"),
    Case("no snapshots", aws(snapshotRetentionDays=0),
         "aragora-redis:aws.snapshotRetentionDays", ("got 0", "1 to 35")),
    Case("apply immediately in prod", aws(applyImmediately=True),
         "aragora-redis:aws.applyImmediately", ("got True", "false in prod"), "prod-aws"),
    Case("open to the world", aws(allowedCidrs=["0.0.0.0/0"]),
         "aragora-redis:aws.allowedCidrs[0]", ("'0.0.0.0/0'", "never 0.0.0.0/0")),
    Case("public CIDR", aws(allowedCidrs=["10.0.0.0/8", "8.8.8.0/24"]),
         "aragora-redis:aws.allowedCidrs[1]", ("'8.8.8.0/24'", "private IPv4 CIDR")),
    Case("no ingress source", aws(allowedSecurityGroupIds=None),
         "aragora-redis:aws.allowedSecurityGroupIds", ("got []", "at least one")),
    Case("engine version", aws(engineVersion="6.2"),
         "aragora-redis:aws.engineVersion", ("'6.2'", "7.0, 7.1 for engine redis")),
    Case("engine", aws(engine="memcached"), "aragora-redis:aws.engine",
         ("'memcached'", "'redis' or 'valkey'")),
    Case("maxmemory policy", aws(maxmemoryPolicy="lru"),
         "aragora-redis:aws.maxmemoryPolicy", ("'lru'", "'volatile-ttl'")),
    Case("log retention", aws(logRetentionDays=10),
         "aragora-redis:aws.logRetentionDays", ("got 10", "one of 1, 3, 5, 7, 14")),
    Case("overlapping windows",
         aws(snapshotWindow="05:00-06:30", maintenanceWindow="sun:06:00-sun:07:00"),
         "aragora-redis:aws.snapshotWindow", ("'05:00-06:30'", "does not overlap")),
    Case("short maintenance window", aws(maintenanceWindow="sun:05:00-sun:05:30"),
         "aragora-redis:aws.maintenanceWindow", ("'sun:05:00-sun:05:30'", "60 minutes")),
    Case("shards without cluster mode", aws(shards=3), "aragora-redis:aws.shards",
         ("got 3", "only with mode cluster")),
    Case("username with an AUTH token", aws(username="app"),
         "aragora-redis:aws.username", ("'app'", "only with authMode rbac")),
    Case("one subnet", aws(subnetIds=["subnet-04a1c9e2b7d3f5086"]),
         "aragora-redis:aws.subnetIds", ("['subnet-04a1c9e2b7d3f5086']", "two or more distinct")),
    Case("subnets in one AZ", {}, "aragora-redis:aws.subnetIds",
         ("us-east-1a", "two or more availability zones"),
         subnets={s: ("us-east-1a", STAGING_VPC) for s in STAGING_SUBNETS}),
    Case("subnet of another VPC", {}, "aragora-redis:aws.subnetIds[1]",
         (f"'{STAGING_SUBNETS[1]}'", f"a subnet of vpcId {STAGING_VPC}"),
         subnets={STAGING_SUBNETS[0]: ("us-east-1a", STAGING_VPC),
                  STAGING_SUBNETS[1]: ("us-east-1b", "vpc-0fffffffffffffff0")}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_config_is_named_before_any_resource(case: Case) -> None:
    stack = case.stack or STAGING
    case.check(run_program(changed(stack, case.changes), stack, subnets=case.subnets))


def test_config_errors_print_without_a_traceback() -> None:
    # pulumi's language host logs a RunError's message alone, not a traceback.
    assert issubclass(StackConfigError, pulumi.RunError)


def test_all_problems_of_a_section_are_reported_together() -> None:
    config = changed("prod-aws", aws(replicas=1, snapshotRetentionDays=1, applyImmediately=True))
    run = run_program(config, "prod-aws")
    assert isinstance(run.error, StackConfigError)
    assert set(run.error.keys) == {
        "aragora-redis:aws.replicas",
        "aragora-redis:aws.snapshotRetentionDays",
        "aragora-redis:aws.applyImmediately",
    }


def test_every_backend_name_has_a_backend() -> None:
    assert set(get_args(BackendName)) == set(BACKENDS), "BackendName and BACKENDS differ"
