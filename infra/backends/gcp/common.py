"""What the GCP backend's instance and its cluster option share: args, labels, windows, secrets.

Both :mod:`.instance` and :mod:`.cluster` import this module; neither imports the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
import pulumi_gcp as gcp

from ..common import CloudArgs, publish_json
from .settings import GcpSettings

T = TypeVar("T")


@dataclass(frozen=True)
class GcpRedisArgs(CloudArgs[GcpSettings]):
    """What :class:`GcpRedis` and :class:`GcpClusterRedis` build from (see :class:`CloudArgs`).

    ``tags`` are GCP labels (:func:`labels_of`); ``client`` is rendered into the
    Secret Manager secret when ``secretId`` is set.
    """

    @property
    def labels(self) -> dict[str, str]:
        """The labels on every resource that takes labels."""
        return self.tags


def publish_env(
    parent: pulumi.Resource,
    name: str,
    secret_id: str,
    env: pulumi.Output[dict[str, str]],
    args: GcpRedisArgs,
) -> None:
    """Publish ``env`` (the ARAGORA_REDIS_* map, as JSON) to the Secret Manager ``secret_id``."""
    publish_json(
        parent,
        args.protect,
        env,
        lambda opts: gcp.secretmanager.Secret(
            f"{name}-env",
            secret_id=secret_id,
            project=args.settings.project,
            replication=gcp.secretmanager.SecretReplicationArgs(
                auto=gcp.secretmanager.SecretReplicationAutoArgs()
            ),
            labels=args.labels,
            opts=opts,
        ),
        lambda secret, payload, opts: gcp.secretmanager.SecretVersion(
            f"{name}-env", secret=secret.id, secret_data=payload, opts=opts
        ),
    )


def maintenance_policy(
    s: GcpSettings,
    policy: Callable[..., T],
    window: Callable[..., Any],
    start: Callable[..., Any],
) -> T:
    """The weekly maintenance window of ``s``, built from one SDK's three Args classes."""
    start_time = start(hours=s.maintenance_hour, minutes=0, seconds=0, nanos=0)
    return policy(weekly_maintenance_windows=[window(day=s.maintenance_day, start_time=start_time)])


def labels_of(tags: dict[str, str]) -> dict[str, str]:
    """Tags as GCP labels: lowercase letters, digits, ``-`` and ``_``, at most 63 characters."""

    def clean(text: str) -> str:
        return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]

    return {clean(k): clean(v) for k, v in tags.items()}
