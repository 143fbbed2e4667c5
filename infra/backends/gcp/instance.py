"""The GCP backend: a Memorystore for Redis instance per stack.

STANDARD_HA (a primary and replicas in another zone, automatic failover), AUTH
on, TLS with ``SERVER_AUTHENTICATION``, reachable only from an explicit VPC
through private service access, RDB persistence, a weekly maintenance window,
an optional customer-managed key, alert policies, and optionally the env map in
Secret Manager. The contract's mode is ``standalone`` on the primary endpoint
(its address follows failovers). Memorystore signs its server certificates
with its own CA, exported as ``aragoraRedisCaPem`` (every certificate of
``server_ca_certs``, so clients keep trusting the server during a CA rotation).
With ``cluster`` the stack gets Memorystore for Redis Cluster or for Valkey
instead (:mod:`infra.backends.gcp.cluster`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from ...endpoint import RedisEndpoint
from ...outputs import contract_env
from ..common import BackendComponent, Outputs
from .common import GcpRedisArgs, maintenance_policy, publish_env
from .kms import REDIS_AGENT, key_access
from .monitoring import alert_policies
from .network import private_access
from .settings import GcpSettings


class GcpRedis(BackendComponent[GcpRedisArgs]):
    """A highly available Memorystore for Redis instance and everything around it.

    ``endpoint`` is the shared :class:`RedisEndpoint`; ``name`` is the instance
    id (at most 40 characters, checked by the stack config).
    """

    TYPE = "aragora-redis:gcp:GcpRedis"
    instance: gcp.redis.Instance

    def _declare(self, name: str, args: GcpRedisArgs) -> Outputs:
        s, labels = args.settings, args.labels
        access = private_access(name, s, labels, self)
        key_grant = key_access(name, s, REDIS_AGENT, self)
        standard = s.tier == "STANDARD_HA"
        instance = gcp.redis.Instance(
            name,
            name=name,
            project=s.project,
            region=s.region,
            display_name=f"Redis for Aragora ({name})",
            tier=s.tier,
            memory_size_gb=s.memory_size_gb,
            replica_count=s.replicas if standard else None,
            read_replicas_mode=_read_replicas_mode(s) if standard else None,
            location_id=s.zone,
            alternative_location_id=s.alternative_zone,
            authorized_network=s.network,
            connect_mode="PRIVATE_SERVICE_ACCESS",
            reserved_ip_range=access.reserved_ip_range,
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION",
            redis_version=s.redis_version,
            redis_configs=s.redis_configs,
            persistence_config=gcp.redis.InstancePersistenceConfigArgs(
                persistence_mode="RDB", rdb_snapshot_period=s.snapshot_period
            ),
            maintenance_policy=maintenance_policy(
                s,
                gcp.redis.InstanceMaintenancePolicyArgs,
                gcp.redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs,
                gcp.redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs,
            ),
            customer_managed_key=s.customer_managed_key,
            deletion_protection=args.protect,
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[*access.depends_on, *key_grant],
                additional_secret_outputs=["auth_string"],
            ),
        )
        alert_policies(name, instance, s, labels, self)
        self.instance = instance
        self.endpoint = RedisEndpoint(
            "standalone",
            instance.host,
            instance.port,
            tls=True,
            password=pulumi.Output.secret(instance.auth_string),
            ca_pem=instance.server_ca_certs.apply(ca_bundle),
        )
        if s.secret_id is not None:
            publish_env(self, name, s.secret_id, contract_env(self.endpoint, args.client), args)
        return {
            "instanceId": instance.id,
            "host": self.endpoint.host,
            "port": self.endpoint.port,
            "readEndpoint": instance.read_endpoint,
        }


def ca_bundle(certs: Sequence[gcp.redis.outputs.InstanceServerCaCert] | None) -> str:
    """Every server CA certificate, concatenated into one PEM bundle."""
    pems = [c.cert.strip() for c in certs or () if c.cert]
    return "".join(f"{pem}\n" for pem in pems)


def _read_replicas_mode(s: GcpSettings) -> str:
    return "READ_REPLICAS_ENABLED" if s.read_replicas else "READ_REPLICAS_DISABLED"
