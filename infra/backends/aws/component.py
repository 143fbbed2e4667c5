"""The AWS backend: an ElastiCache (Redis OSS or Valkey) replication group per stack.

Private subnets only, ingress only from listed security groups or private
CIDRs, TLS required, encryption at rest, AUTH token or RBAC, Multi-AZ with
automatic failover, snapshots, log delivery and alarms. Replication mode gives
the contract's ``standalone`` mode on the primary endpoint (its DNS name follows
failovers); cluster mode gives ``cluster`` on the configuration endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ...endpoint import RedisEndpoint
from ...outputs import contract_env
from ...settings import Problem, StackConfig, config_key, fail
from ..common import (
    BackendComponent,
    CloudArgs,
    Outputs,
    primary_or_cluster,
    publish_json,
    warn_unnotified,
)
from .auth import credentials
from .monitoring import alarms, log_delivery, log_groups
from .settings import AwsSettings
from .topology import Topology, member_clusters, subnet_zones


@dataclass(frozen=True)
class ElastiCacheRedisArgs(CloudArgs[AwsSettings]):
    """What :class:`ElastiCacheRedis` builds from (see :class:`CloudArgs`).

    ``zones`` are the distinct availability zones of the subnets, in subnet order;
    ``client`` is rendered into the Secrets Manager secret when ``secretName`` is set.
    """

    zones: tuple[str, ...] = ()


class ElastiCacheRedis(BackendComponent[ElastiCacheRedisArgs]):
    """A highly available ElastiCache replication group and everything around it.

    ``endpoint`` is the shared :class:`RedisEndpoint`; ``name`` is the
    replication group id (at most 40 characters, checked by the stack config).
    """

    TYPE = "aragora-redis:aws:ElastiCacheRedis"
    replication_group: aws.elasticache.ReplicationGroup

    def _declare(self, name: str, args: ElastiCacheRedisArgs) -> Outputs:
        s, tags = args.settings, args.tags
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # A fixed name: a new subnet group name would replace the replication
        # group, so a replacement must fail on the name instead.
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=f"{name}-subnets",
            description=f"Private subnets of {name}",
            subnet_ids=list(s.subnet_ids),
            tags=tags,
            opts=child,
        )
        security_group = self._security_group(name, s, tags)
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-parameters",
            # The family in the name lets a major upgrade create the new group
            # before the old one is deleted (Pulumi replaces create-first).
            name=f"{name}-{s.family}",
            family=s.family,
            description=f"Parameters of {name}",
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(name=k, value=v)
                for k, v in _parameters(s).items()
            ],
            tags=tags,
            opts=child,
        )
        creds = credentials(name, s, tags, self)
        logs = log_groups(name, s.log_retention_days, tags, stateful)
        topology = Topology.of(s, args.zones)
        final_suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
        group = aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=name,
            description=f"Redis for Aragora ({name})",
            engine=s.engine,
            engine_version=s.engine_version,
            node_type=s.node_type,
            data_tiering_enabled=s.node_type.split(".")[1].endswith("gd"),
            port=s.port,
            parameter_group_name=parameters.name,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group.id],
            cluster_mode=topology.cluster_mode,
            num_cache_clusters=topology.num_cache_clusters,
            preferred_cache_cluster_azs=topology.preferred_cache_cluster_azs,
            num_node_groups=topology.num_node_groups,
            replicas_per_node_group=topology.replicas_per_node_group,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=s.kms_key_id,
            auth_token=creds.auth_token,
            auth_token_update_strategy=creds.auth_token_update_strategy,
            user_group_ids=[creds.user_group_id] if creds.user_group_id is not None else None,
            auto_minor_version_upgrade=True,
            apply_immediately=s.apply_immediately,
            maintenance_window=s.maintenance_window,
            snapshot_window=s.snapshot_window,
            snapshot_retention_limit=s.snapshot_retention_days,
            # A random suffix: snapshot names are unique per region, and a stack
            # destroyed twice would otherwise collide with its first final snapshot.
            final_snapshot_identifier=pulumi.Output.concat(name, "-final-", final_suffix.hex),
            notification_topic_arn=s.alarm_topic_arn,
            log_delivery_configurations=log_delivery(logs),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, additional_secret_outputs=["auth_token"]
            ),
        )
        alarms(name, member_clusters(name, s), s, tags, child)
        self.replication_group = group
        self.endpoint = _endpoint(group, s, creds.username, creds.password)
        if s.secret_name is not None:
            self._publish(name, s.secret_name, contract_env(self.endpoint, args.client), args)
        return {
            "replicationGroupId": group.id,
            "arn": group.arn,
            "host": self.endpoint.host,
            "port": self.endpoint.port,
            "securityGroupId": security_group.id,
        }

    def _security_group(
        self, name: str, s: AwsSettings, tags: dict[str, str]
    ) -> aws.ec2.SecurityGroup:
        # No egress rules: Redis never opens connections, and the provider
        # removes the allow-all egress AWS adds to a new group. Auto-named, so a
        # replacement is created (and swapped in place) before the old is deleted.
        group = aws.ec2.SecurityGroup(
            f"{name}-redis",
            description=f"Redis of {name}: the engine port from the listed sources only",
            vpc_id=s.vpc_id,
            revoke_rules_on_delete=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        rule = pulumi.ResourceOptions(parent=group)
        sources: list[tuple[str, str | None, str | None]]
        sources = [(sg, sg, None) for sg in s.allowed_security_group_ids]
        sources += [(cidr.replace("/", "-"), None, cidr) for cidr in s.allowed_cidrs]
        for label, source_group, cidr in sources:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-from-{label}",
                security_group_id=group.id,
                referenced_security_group_id=source_group,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=s.port,
                to_port=s.port,
                description=f"Redis from {source_group or cidr}",
                tags=tags,
                opts=rule,
            )
        return group

    def _publish(
        self,
        name: str,
        secret_name: str,
        env: pulumi.Output[dict[str, str]],
        args: ElastiCacheRedisArgs,
    ) -> None:
        publish_json(
            self,
            args.protect,
            env,
            lambda opts: aws.secretsmanager.Secret(
                f"{name}-env",
                name=secret_name,
                description=f"ARAGORA_REDIS_* settings of {name} (JSON)",
                tags=args.tags,
                opts=opts,
            ),
            lambda secret, payload, opts: aws.secretsmanager.SecretVersion(
                f"{name}-env", secret_id=secret.id, secret_string=payload, opts=opts
            ),
        )


def _parameters(s: AwsSettings) -> dict[str, str]:
    params: dict[str, str] = {"maxmemory-policy": s.maxmemory_policy}
    if s.mode == "cluster":
        params["cluster-enabled"] = "yes"
    return params


def _endpoint(
    group: aws.elasticache.ReplicationGroup,
    s: AwsSettings,
    username: str | None,
    password: pulumi.Output[str],
) -> RedisEndpoint:
    port = group.port.apply(lambda p: s.port if p is None else p)
    if s.mode == "replication":
        host = group.primary_endpoint_address
    else:
        host = group.configuration_endpoint_address
    cluster = s.mode == "cluster"
    return primary_or_cluster(host, port, password, cluster=cluster, username=username)


def deploy(config: StackConfig, settings: AwsSettings) -> RedisEndpoint:
    """Look up the subnets, then declare the :class:`ElastiCacheRedis` of the stack."""
    _check_key_region(settings)
    zones = subnet_zones(settings)
    warn_unnotified(config, "aws", "alarmTopicArn", settings.alarm_topic_arn, "alarms")
    args = ElastiCacheRedisArgs.of(config, settings, zones=zones)
    return ElastiCacheRedis(config.stack.name, args).endpoint


def _check_key_region(settings: AwsSettings) -> None:
    # KMS keys are regional: ElastiCache in aws:region cannot use a key of another region.
    region = pulumi.Config("aws").get("region")
    key = settings.kms_key_id
    if key is not None and region is not None and key.split(":")[3] != region:
        expected = f"a KMS key of the stack's aws:region {region} (keys are regional)"
        fail([Problem(config_key("aws", "kmsKeyId"), key, expected)])
