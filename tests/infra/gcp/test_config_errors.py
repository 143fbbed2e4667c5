"""Each invalid GCP config stops the program before any resource is declared.

The error names the config key, shows the value and says what is allowed.
"""

from __future__ import annotations

import pytest

from ..gcp_mocks import gcp, run_gcp
from ..harness import ErrorCase as Case
from ..harness import case_ids
from ..stack_config import changed

STAGING = {"environment": "staging", **gcp(customerManagedKey=None)}
DEV = {"environment": "dev"}


CASES = [
    Case("BASIC tier in prod", gcp(tier="BASIC", replicas=0, readReplicas=False),
         "aragora-redis:gcp.tier", ("'BASIC'", "STANDARD_HA in prod")),
    Case("TLS off in prod", {"tls": "false"}, "aragora-redis:tls", ("got False", "true (prod")),
    Case("TLS off in staging", {**STAGING, "tls": "false"}, "aragora-redis:tls",
         ("got False", "SERVER_AUTHENTICATION")),
    Case("no network", gcp(network=None), "aragora-redis:gcp.network", ("required",)),
    Case("default network", gcp(network="projects/aragora-prod-4821/global/networks/default"),
         "aragora-redis:gcp.network", ("networks/default'", "not the default network")),
    Case("network not an id", gcp(network="aragora-prod-vpc"), "aragora-redis:gcp.network",
         ("'aragora-prod-vpc'", "projects/<project>/global/networks/<network>")),
    Case("no replica", gcp(replicas=0), "aragora-redis:gcp.replicas", ("got 0", "1 to 5 in prod")),
    Case("replicas without read replicas", gcp(replicas=2, readReplicas=False),
         "aragora-redis:gcp.replicas", ("got 2", "with readReplicas true")),
    Case("read replicas below 5 GiB", gcp(memorySizeGb=4), "aragora-redis:gcp.memorySizeGb",
         ("got 4", "5 to 300 GiB with readReplicas")),
    Case("BASIC with a replica", {**DEV, **gcp(tier="BASIC", replicas=1)},
         "aragora-redis:gcp.replicas", ("got 1", "0 with tier BASIC")),
    Case("same zone twice", gcp(alternativeZone="us-central1-a"),
         "aragora-redis:gcp.alternativeZone", ("'us-central1-a'", "other than zone")),
    Case("unknown tier", gcp(tier="STANDARD"), "aragora-redis:gcp.tier",
         ("'STANDARD'", "'STANDARD_HA' or 'BASIC'")),
    Case("redis version", gcp(redisVersion="REDIS_5_0"), "aragora-redis:gcp.redisVersion",
         ("'REDIS_5_0'", "'REDIS_7_2'")),
    Case("snapshot period", gcp(snapshotPeriod="DAILY"), "aragora-redis:gcp.snapshotPeriod",
         ("'DAILY'", "'ONE_HOUR'")),
    Case("maintenance hour", gcp(maintenanceHour=24), "aragora-redis:gcp.maintenanceHour",
         ("got 24", "less than or equal to 23")),
    Case("key not a KMS key", gcp(customerManagedKey="redis-key"),
         "aragora-redis:gcp.customerManagedKey", ("'redis-key'", "a Cloud KMS key id")),
    Case("notification channel", gcp(notificationChannels=["pager"]),
         "aragora-redis:gcp.notificationChannels[0]", ("'pager'", "notificationChannels/<number>")),
    Case("memory alert above 1", gcp(alerts={"memoryUsageRatio": 1.5}),
         "aragora-redis:gcp.alerts.memoryUsageRatio", ("1.5", "less than or equal to 1")),
    Case("range given and created", gcp(createPrivateServiceAccess=True),
         "aragora-redis:gcp.reservedIpRange", ("'aragora-prod-psa'", "createPrivateServiceAccess")),
    Case("unknown key", gcp(authorizedNetwork="x"), "aragora-redis:gcp",
         ("['authorizedNetwork']", "only these keys: alerts, alternativeZone,")),
    Case("region", gcp(region="central"), "aragora-redis:gcp.region",
         ("'central'", "a region such as us-central1")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_config_is_named_before_any_resource(case: Case) -> None:
    case.check(run_gcp(changed("prod-gcp", case.changes), "prod-gcp"))
