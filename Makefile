# The README's two commands are `make local` and `make test`; each sets up what it needs.
SHELL := /bin/bash
VENV := .venv/bin
PORT_BASE ?= 7000
TLS ?= 0
# make local ENGINE=valkey runs the stack on valkey-server (see README: The local stack).
ENGINE ?= redis
# make local runs the failover drill after the stack is up; DRILL=0 skips it.
DRILL ?= 1
DRILL_ARGS ?= --baseline --report .local/drill.html --json .local/drill.json

.PHONY: setup test lint typecheck pytest local drill local-down local-status clean compat

setup:
	@scripts/setup.sh

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck: setup
	$(VENV)/mypy

pytest: setup
	@$(VENV)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

local: setup
	$(VENV)/aragora-redis local up --port-base $(PORT_BASE) --engine $(ENGINE) $(if $(filter 1,$(TLS)),--tls,)
ifeq ($(DRILL),1)
	$(VENV)/aragora-redis drill $(DRILL_ARGS)
endif

drill: setup
	$(VENV)/aragora-redis drill $(DRILL_ARGS)

local-down: setup
	$(VENV)/aragora-redis local down

local-status: setup
	$(VENV)/aragora-redis local status

clean: local-down
	rm -rf .local .env

# Rate-limit check vs PING and the limits library on a throwaway local redis-server.
# BENCH_ARGS passes options through, e.g. make bench BENCH_ARGS="--json bench.json".
.PHONY: bench
bench: setup
	$(VENV)/python scripts/bench.py $(BENCH_ARGS)

# Offline plan of one stack: its program under Pulumi's mocks, the resource tree,
# the outputs (secrets masked) and the policy pack. Not a substitute for pulumi preview.
.PHONY: plan
plan: setup
	@if [ -z "$(STACK)" ]; then echo "usage: make plan STACK=<name of a stacks/Pulumi.<name>.yaml>, e.g. STACK=prod-aws" >&2; exit 2; fi
	$(VENV)/python scripts/plan.py $(STACK) $(PLAN_ARGS)

# The released Aragora (pinned in scripts/compat/requirements.in, installed into
# .venv-aragora from the hashed lock) driven against every local topology.
# make test runs the same tests (tests/compat) with the rest.
compat: setup
	@scripts/compat/setup.sh
	$(VENV)/pytest tests/compat -q

# The seed's bare SENTINEL FAILOVER while the released Aragora writes through its own
# URL pool, session store and Sentinel client: acknowledged writes lost and outage per
# path, 5 runs on a local Sentinel stack with HAProxy and fencing (FAILOVER_ARGS=--no-fencing).
.PHONY: compat-failover
compat-failover: setup
	@scripts/compat/setup.sh
	$(VENV)/python -m tests.compat.aragora_failover --runs 5 $(FAILOVER_ARGS)
