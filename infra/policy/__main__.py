"""Entry point the Pulumi CLI runs for ``--policy-pack infra/policy``: serve the pack."""

import sys
from pathlib import Path

# The CLI runs this file from infra/policy/, so the repository root, where the
# package ``infra`` lives, is put on sys.path (as infra/__main__.py does).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import PolicyPack

from infra.policy import PACK_NAME
from infra.policy.evaluate import PACK_LEVEL
from infra.policy.rules import POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=PACK_LEVEL)
