"""Value types of the ``aragora-redis:aws`` keys: AWS ids, ARNs, CIDRs, node types, windows.

Each is an annotated ``str`` whose error says what is allowed, e.g. ``a VPC id
such as vpc-0123456789abcdef0``; the window helpers also tell whether the daily
snapshot window meets the weekly maintenance window.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from ...settings import matching

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY, _WEEK = 1440, 7 * 1440
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def private_cidr(value: str) -> str:
    """Accept an RFC 1918 IPv4 CIDR only."""
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        net = None
    if not isinstance(net, ipaddress.IPv4Network) or not any(net.subnet_of(p) for p in _PRIVATE_V4):
        raise PydanticCustomError(
            "cidr",
            "a private IPv4 CIDR inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            " (never 0.0.0.0/0)",
        )
    return value


def two_distinct(ids: tuple[str, ...]) -> tuple[str, ...]:
    """Accept two or more ids, none repeated."""
    if len(set(ids)) < 2 or len(set(ids)) != len(ids):
        raise PydanticCustomError("subnets", "two or more distinct private subnet ids, one per AZ")
    return ids


def _clock(text: str) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    return hours * 60 + minutes


def snapshot_span(window: str) -> tuple[int, int]:
    """Start (minute of the day) and length in minutes of a daily ``HH:MM-HH:MM`` window."""
    start, end = (_clock(t) for t in window.split("-"))
    return start, (end - start) % _DAY


def maintenance_span(window: str) -> tuple[int, int]:
    """Start (minute of the week, 0 = Monday 00:00 UTC) and length of ``ddd:HH:MM-ddd:HH:MM``."""
    first, last = window.split("-")
    start = _DAYS.index(first[:3]) * _DAY + _clock(first[4:])
    end = _DAYS.index(last[:3]) * _DAY + _clock(last[4:])
    return start, (end - start) % _WEEK


def windows_overlap(snapshot: str, maintenance: str) -> bool:
    """Whether the daily snapshot window meets the weekly maintenance window."""
    s_start, s_len = snapshot_span(snapshot)
    m_start, m_len = maintenance_span(maintenance)
    weekly = {(m_start + m) % _WEEK for m in range(m_len)}
    return any(
        (day * _DAY + s_start + m) % _WEEK in weekly for day in range(7) for m in range(s_len)
    )


def _window(pattern: str, span: Any, expected: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            ok = re.fullmatch(pattern, value) is not None and 60 <= span(value)[1] <= _DAY
        except ValueError:
            ok = False
        if not ok:
            raise PydanticCustomError("window", expected)
        return value

    return AfterValidator(check)


def _resource_id(prefix: str, what: str) -> AfterValidator:
    """An EC2 resource id: ``<prefix>-`` and 8 to 17 hex digits."""
    example = f"{prefix}-0123456789abcdef0"
    return matching(rf"{prefix}-[0-9a-f]{{8,17}}", f"a {what} id such as {example}")


VpcId = Annotated[str, _resource_id("vpc", "VPC")]
SubnetId = Annotated[str, _resource_id("subnet", "subnet")]
SecurityGroupId = Annotated[str, _resource_id("sg", "security group")]
NodeType = Annotated[
    str,
    matching(
        r"cache\.(?!t1\.)[a-z][a-z0-9-]*\.[a-z0-9]+",
        "an ElastiCache node type cache.<family>.<size> such as cache.r7g.large"
        " (not cache.t1.*, which cannot keep snapshots)",
    ),
]
KmsKeyArn = Annotated[
    str,
    matching(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+",
        "a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/<key-id>",
    ),
]
SnsTopicArn = Annotated[
    str,
    matching(
        r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}",
        "an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:alerts",
    ),
]
SecretName = Annotated[
    str, matching(r"[A-Za-z0-9/_+=.@-]{1,512}", "a Secrets Manager name such as aragora/prod/redis")
]
Username = Annotated[
    str,
    matching(
        r"(?!default$)[a-z][a-z0-9-]{0,39}",
        "a user name of lowercase letters, digits and hyphens, not 'default'",
    ),
]
SnapshotWindow = Annotated[
    str,
    _window(
        r"\d\d:\d\d-\d\d:\d\d",
        snapshot_span,
        "HH:MM-HH:MM in UTC, 60 minutes to 24 hours, such as 03:00-04:00",
    ),
]
MaintenanceWindow = Annotated[
    str,
    _window(
        rf"({'|'.join(_DAYS)}):\d\d:\d\d-({'|'.join(_DAYS)}):\d\d:\d\d",
        maintenance_span,
        "ddd:HH:MM-ddd:HH:MM in UTC, 60 minutes to 24 hours, such as sun:05:00-sun:06:00",
    ),
]
