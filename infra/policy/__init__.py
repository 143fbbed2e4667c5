"""The CrossGuard policy pack of aragora-redis (``pulumi preview --policy-pack infra/policy``).

:mod:`.rules` holds the policies, one per concern; :mod:`.aws`, :mod:`.gcp`,
:mod:`.azure` and :mod:`.kubernetes` hold each cloud's checks; :mod:`.core`
what they share (the resource as a check sees it, prod-ness);
:mod:`.evaluate` runs the pack without the CLI (tests, ``make plan``).
"""

PACK_NAME = "aragora-redis"
