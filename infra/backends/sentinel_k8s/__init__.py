"""``sentinel-k8s``: Redis Sentinel on Kubernetes, the :class:`SentinelK8sRedis` component.

``component`` declares it; ``settings``/``values`` validate ``aragora-redis:sentinel-k8s``;
``names`` and ``conf`` name the objects and render the configs and ``scripts``;
``workloads``, ``pods``, ``haproxy``, ``network`` and ``monitoring`` build the objects.
"""

from .component import SentinelK8sRedis, deploy
from .settings import SentinelK8sSettings

__all__ = ["SentinelK8sRedis", "SentinelK8sSettings", "deploy"]
