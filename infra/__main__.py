"""Pulumi entry point: read the stack config, deploy its backend, export the contract."""

import sys
from pathlib import Path

# Pulumi runs this file with runpy.run_path("infra/"), which puts infra/ itself,
# not the project root, on sys.path; the program is imported as the package ``infra``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra import config
from infra.backends import BACKENDS
from infra.outputs import export_contract

stack_config = config.load()
endpoint = BACKENDS[stack_config.stack.backend].deploy(stack_config)
export_contract(endpoint, stack_config.client)
