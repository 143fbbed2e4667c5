"""Each invalid config stops the program before any resource is declared.

The error names the config key, shows the value and says what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import pulumi
import pytest

from infra.backends import BACKENDS
from infra.settings import BackendName, StackConfigError

from .harness import assert_named_error, aws, case_ids, changed, run_program, stack_file


@dataclass(frozen=True)
class Case:
    """A change to a stack file and the error it must give."""

    id: str
    stack: str
    changes: dict[str, Any]
    key: str
    shows: tuple[str, ...]
    subnets: dict[str, tuple[str, str]] | None = None


STAGING_SUBNETS = stack_file("staging-aws")["aragora-redis:aws"]["subnetIds"]
STAGING_VPC = stack_file("staging-aws")["aragora-redis:aws"]["vpcId"]

CASES = [
    Case("unknown backend", "staging-aws", {"backend": "gcpp"}, "aragora-redis:backend",
         ("'gcpp'", "'aws', 'gcp', 'azure', 'azure-managed' or 'sentinel-k8s'")),
    Case("backend without its section", "staging-aws", {"backend": "sentinel-k8s"},
         "aragora-redis:sentinel-k8s.allowedNamespaces", ("got []", "allowedPodLabels")),
    Case("no environment", "staging-aws", {"environment": None}, "aragora-redis:environment",
         ("got nothing", "required")),
    Case("unknown environment", "staging-aws", {"environment": "production"},
         "aragora-redis:environment", ("'production'", "'dev', 'staging' or 'prod'")),
    Case("name too long", "staging-aws", {"name": "a" * 41}, "aragora-redis:name",
         ("'" + "a" * 41 + "'", "2 to 40 lowercase")),
    Case("TLS off in prod", "prod-aws", {"tls": "false"}, "aragora-redis:tls",
         ("got False", "true (prod")),
    Case("TLS off on AWS", "staging-aws", {"tls": "false"}, "aragora-redis:tls",
         ("got False", "only over TLS")),
    Case("tags not an object", "staging-aws", {"tags": "team=aragora"}, "aragora-redis:tags",
         ("'team=aragora'", "an object")),
    Case("bad client timeout", "staging-aws", {"client.socketTimeout": -1},
         "aragora-redis:client.socketTimeout", ("-1", "seconds above 0")),
    Case("bad session TTL", "staging-aws", {"client.sessionTtls": {"debate": 0}},
         "aragora-redis:client.sessionTtls.debate", ("got 0", "1 to")),
    Case("aws section not an object", "staging-aws", {"aws": "cache.r7g.large"},
         "aragora-redis:aws", ("'cache.r7g.large'", "an object")),
    Case("unknown aws key", "staging-aws", aws(nodeTyp="cache.r7g.large"), "aragora-redis:aws",
         ("got ['nodeTyp']", "only these keys: alarmTopicArn, alarms,")),
    Case("no vpc", "staging-aws", aws(vpcId=None), "aragora-redis:aws.vpcId", ("required",)),
    Case("replicas below prod minimum", "prod-aws", aws(replicas=1), "aragora-redis:aws.replicas",
         ("got 1", "2 to 5 replicas per primary in prod")),
    Case("no replica", "staging-aws", aws(replicas=0), "aragora-redis:aws.replicas",
         ("got 0", "1 to 5")),
    Case("not a cache node type", "staging-aws", aws(nodeType="r7g.large"),
         "aragora-redis:aws.nodeType", ("'r7g.large'", "cache.<family>.<size>")),
    Case("t1 node type", "staging-aws", aws(nodeType="cache.t1.micro"),
         "aragora-redis:aws.nodeType", ("'cache.t1.micro'", "not cache.t1")),
    Case("snapshot retention below prod minimum", "prod-aws", aws(snapshotRetentionDays=3),
         "aragora-redis:aws.snapshotRetentionDays", ("got 3", "7 to 35 days in prod")),
    Case("no snapshots", "staging-aws", aws(snapshotRetentionDays=0),
         "aragora-redis:aws.snapshotRetentionDays", ("got 0", "1 to 35")),
    Case("apply immediately in prod", "prod-aws", aws(applyImmediately=True),
         "aragora-redis:aws.applyImmediately", ("got True", "false in prod")),
    Case("open to the world", "staging-aws", aws(allowedCidrs=["0.0.0.0/0"]),
         "aragora-redis:aws.allowedCidrs[0]", ("'0.0.0.0/0'", "never 0.0.0.0/0")),
    Case("public CIDR", "staging-aws", aws(allowedCidrs=["10.0.0.0/8", "8.8.8.0/24"]),
         "aragora-redis:aws.allowedCidrs[1]", ("'8.8.8.0/24'", "private IPv4 CIDR")),
    Case("no ingress source", "staging-aws", aws(allowedSecurityGroupIds=None),
         "aragora-redis:aws.allowedSecurityGroupIds", ("got []", "at least one")),
    Case("engine version", "staging-aws", aws(engineVersion="6.2"),
         "aragora-redis:aws.engineVersion", ("'6.2'", "7.0, 7.1 for engine redis")),
    Case("engine", "staging-aws", aws(engine="memcached"), "aragora-redis:aws.engine",
         ("'memcached'", "'redis' or 'valkey'")),
    Case("maxmemory policy", "staging-aws", aws(maxmemoryPolicy="lru"),
         "aragora-redis:aws.maxmemoryPolicy", ("'lru'", "'volatile-ttl'")),
    Case("log retention", "staging-aws", aws(logRetentionDays=10),
         "aragora-redis:aws.logRetentionDays", ("got 10", "one of 1, 3, 5, 7, 14")),
    Case("overlapping windows", "staging-aws",
         aws(snapshotWindow="05:00-06:30", maintenanceWindow="sun:06:00-sun:07:00"),
         "aragora-redis:aws.snapshotWindow", ("'05:00-06:30'", "does not overlap")),
    Case("short maintenance window", "staging-aws", aws(maintenanceWindow="sun:05:00-sun:05:30"),
         "aragora-redis:aws.maintenanceWindow", ("'sun:05:00-sun:05:30'", "60 minutes")),
    Case("shards without cluster mode", "staging-aws", aws(shards=3), "aragora-redis:aws.shards",
         ("got 3", "only with mode cluster")),
    Case("username with an AUTH token", "staging-aws", aws(username="app"),
         "aragora-redis:aws.username", ("'app'", "only with authMode rbac")),
    Case("one subnet", "staging-aws", aws(subnetIds=["subnet-04a1c9e2b7d3f5086"]),
         "aragora-redis:aws.subnetIds", ("['subnet-04a1c9e2b7d3f5086']", "two or more distinct")),
    Case("subnets in one AZ", "staging-aws", {}, "aragora-redis:aws.subnetIds",
         ("us-east-1a", "two or more availability zones"),
         subnets={s: ("us-east-1a", STAGING_VPC) for s in STAGING_SUBNETS}),
    Case("subnet of another VPC", "staging-aws", {}, "aragora-redis:aws.subnetIds[1]",
         (f"'{STAGING_SUBNETS[1]}'", f"a subnet of vpcId {STAGING_VPC}"),
         subnets={STAGING_SUBNETS[0]: ("us-east-1a", STAGING_VPC),
                  STAGING_SUBNETS[1]: ("us-east-1b", "vpc-0fffffffffffffff0")}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_config_is_named_before_any_resource(case: Case) -> None:
    run = run_program(changed(case.stack, case.changes), case.stack, subnets=case.subnets)
    assert_named_error(run, case.key, case.shows, case.id)


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
