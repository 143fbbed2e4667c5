"""The local loopback stack: real redis-server / Sentinel processes for development and tests.

:func:`up` starts a topology from :class:`StackOptions` and returns a
:class:`LocalStack`, whose ``settings`` say how to reach it and whose methods
stop, crash, freeze and restart single nodes. The configs are rendered by
:mod:`aragora_redis.conf`, the same code the Kubernetes backend uses.
"""

from .launch import up, up_on_free_ports
from .ports import PortInUse, check_ports_free, pick_free_ports
from .ready import current_master, restore, sentinel_views, wait_ready
from .spec import MASTER_NAME, Node, StackOptions, Topology
from .stack import LocalStack

__all__ = [
    "MASTER_NAME",
    "LocalStack",
    "Node",
    "PortInUse",
    "StackOptions",
    "Topology",
    "check_ports_free",
    "current_master",
    "pick_free_ports",
    "restore",
    "sentinel_views",
    "up",
    "up_on_free_ports",
    "wait_ready",
]
