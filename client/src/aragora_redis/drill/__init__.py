"""The failover drill: a mixed workload through the four stores while faults are injected.

``aragora-redis drill`` runs it; :mod:`.record` is what a run leaves behind (the
``--json`` output and the input of the ``--report`` timeline).
"""
