"""The GitHub workflows: valid against the GitHub workflow schema (check-jsonschema,
offline), and the safety properties read from their YAML: prod deploys only by hand
from main behind the ``production`` environment, clouds only through OIDC with no
cloud key anywhere, one deploy per stack at a time, and a preview for every stack file.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from .stack_config import ROOT, stack_file
from .stacks import stack_names

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = ROOT / ".venv" / "bin" / "check-jsonschema"
#: The OIDC login each backend's stacks need (sentinel-k8s: the dev cluster is EKS).
BACKEND_CLOUD = {
    "aws": "aws",
    "gcp": "gcp",
    "azure": "azure",
    "azure-managed": "azure",
    "sentinel-k8s": "aws",
}
LOGIN_ACTION = {
    "aws": "aws-actions/configure-aws-credentials",
    "gcp": "google-github-actions/auth",
    "azure": "azure/login",
}
#: The inputs that make each login an OIDC federation.
OIDC_INPUTS = {
    "aws-actions/configure-aws-credentials": {"role-to-assume"},
    "google-github-actions/auth": {"workload_identity_provider", "service_account"},
    "azure/login": {"client-id", "tenant-id", "subscription-id"},
}
#: Long-lived cloud credentials, as action inputs or environment variables.
CLOUD_KEYS = (
    "aws-access-key-id",
    "aws-secret-access-key",
    "aws-session-token",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "credentials_json",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "creds:",
    "client-secret",
    "AZURE_CLIENT_SECRET",
    "ARM_CLIENT_SECRET",
    "ARM_ACCESS_KEY",
)
#: The Pulumi backend token and the passphrase of a self-managed backend: no cloud key.
ALLOWED_SECRETS = {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "GITHUB_TOKEN"}
PULUMI_ACTION = "pulumi/actions"


def load(name: str) -> dict[str, Any]:
    """A workflow file (YAML 1.2: ``on`` stays a string key)."""
    document = YAML(typ="safe", pure=True).load((WORKFLOWS / f"{name}.yml").read_text())
    assert isinstance(document, dict)
    return document


def action(step: dict[str, Any]) -> str:
    """The action a step uses, without its version."""
    return str(step.get("uses", "")).split("@")[0]


def steps_using(job: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if action(s) == name]


def pulumi_command(job: dict[str, Any], command: str) -> dict[str, Any] | None:
    """The ``with`` of the job's pulumi/actions step running ``command``."""
    found = [
        s["with"]
        for s in steps_using(job, PULUMI_ACTION)
        if s.get("with", {}).get("command") == command
    ]
    assert len(found) <= 1
    return found[0] if found else None


def environment_of(stack: str) -> str:
    return str(stack_file(stack).get("aragora-redis:environment", ""))


def backend_of(stack: str) -> str:
    return str(stack_file(stack).get("aragora-redis:backend", ""))


def prod_stacks() -> list[str]:
    return [s for s in stack_names() if environment_of(s) == "prod"]


def preview_matrix() -> list[dict[str, Any]]:
    include = load("preview")["jobs"]["preview"]["strategy"]["matrix"]["include"]
    assert isinstance(include, list)
    return include


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_three_workflows_exist() -> None:
    assert {p.stem for p in workflow_files()} >= {"ci", "preview", "up"}


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_is_valid_against_the_github_workflow_schema(path: Path) -> None:
    result = check_jsonschema(path)
    assert result.returncode == 0, f"{path.name}:\n{result.stdout}{result.stderr}"


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "ci.yml").read_text().replace("runs-on:", "runs_on:"))
    result = check_jsonschema(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "runs_on" in result.stdout


def test_every_stack_file_has_a_preview_and_every_preview_a_stack_file() -> None:
    previewed = [entry["stack"] for entry in preview_matrix()]
    assert len(previewed) == len(set(previewed))
    assert sorted(previewed) == stack_names()


def test_preview_entries_match_their_stack_files() -> None:
    for entry in preview_matrix():
        stack = entry["stack"]
        assert entry["prod"] is (environment_of(stack) == "prod"), stack
        assert entry["cloud"] == BACKEND_CLOUD[backend_of(stack)], stack


def test_preview_runs_on_pull_requests_with_the_policy_pack_diff_and_comment() -> None:
    workflow = load("preview")
    assert set(workflow["on"]) == {"pull_request"}
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["fail-fast"] is False
    assert pulumi_command(job, "preview") == {
        "command": "preview",
        "stack-name": "${{ matrix.stack }}",
        "diff": True,
        "comment-on-pr": True,
        "policyPacks": "infra/policy",
    }
    assert steps_using(job, "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    assert steps_using(job, "astral-sh/setup-uv")
    assert any(s.get("run") == "make setup" for s in job["steps"])
    assert workflow["permissions"]["pull-requests"] == "write"


def guard_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if "scripts/preview_guard.py" in s.get("run", "")]


def test_preview_fails_when_a_prod_stack_would_lose_a_stateful_resource() -> None:
    job = load("preview")["jobs"]["preview"]
    (guard,) = guard_steps(job)
    assert re.search(r"pulumi preview --stack \"\$STACK\" --json", guard["run"])
    assert "$ENFORCE" in guard["run"]
    assert guard["env"] == {
        "STACK": "${{ matrix.stack }}",
        "ENFORCE": "${{ matrix.prod && '--enforce' || '' }}",
    }


def deploy_jobs() -> dict[str, dict[str, Any]]:
    jobs = load("up")["jobs"]
    return {name: job for name, job in jobs.items() if pulumi_command(job, "up") is not None}


def up_stack(job: dict[str, Any]) -> str:
    """The ``stack-name`` expression of the job's ``pulumi up``."""
    found = pulumi_command(job, "up")
    assert found is not None
    return str(found["stack-name"])


def test_up_runs_on_push_to_main_and_by_hand() -> None:
    triggers = load("up")["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}


def test_every_deploy_job_is_a_push_job_or_the_prod_job() -> None:
    kinds = {name: up_stack(job) for name, job in deploy_jobs().items()}
    assert kinds == {"nonprod": "${{ matrix.stack }}", "prod": "${{ inputs.stack }}"}


def test_push_deploys_only_non_prod_stacks() -> None:
    job = deploy_jobs()["nonprod"]
    assert job["if"] == "github.event_name == 'push'"
    assert job["environment"] == "${{ matrix.environment }}"
    entries = job["strategy"]["matrix"]["include"]
    assert {e["stack"] for e in entries} <= set(stack_names())
    assert [e["stack"] for e in entries if environment_of(e["stack"]) == "prod"] == []
    assert "production" not in {e["environment"] for e in entries}


def test_prod_deploys_only_by_hand_from_main_behind_the_production_environment() -> None:
    stack_input = load("up")["on"]["workflow_dispatch"]["inputs"]["stack"]
    assert stack_input["type"] == "choice"
    assert sorted(stack_input["options"]) == prod_stacks()
    job = deploy_jobs()["prod"]
    assert job["if"] == (
        "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'"
    )
    assert job["environment"] == "production"


def test_prod_deploy_checks_the_preview_before_up() -> None:
    job = load("up")["jobs"]["prod"]
    (guard,) = guard_steps(job)
    assert "--enforce" in guard["run"]
    assert guard["env"] == {"STACK": "${{ inputs.stack }}"}
    up_index = next(
        i for i, s in enumerate(job["steps"]) if s.get("with", {}).get("command") == "up"
    )
    assert job["steps"].index(guard) < up_index


def test_prod_job_logs_into_the_cloud_of_each_stack() -> None:
    job = load("up")["jobs"]["prod"]
    expression = job["env"]["CLOUD"]
    match = re.fullmatch(r"\$\{\{ fromJSON\('(\{.*\})'\)\[inputs\.stack\] \}\}", expression)
    assert match, expression
    clouds = json.loads(match.group(1))
    assert sorted(clouds) == prod_stacks()
    for stack, cloud in clouds.items():
        assert cloud == BACKEND_CLOUD[backend_of(stack)], stack
        logins = [
            s for s in steps_using(job, LOGIN_ACTION[cloud]) if s["if"] == f"env.CLOUD == '{cloud}'"
        ]
        assert len(logins) == 1, stack


def test_nonprod_jobs_log_into_the_cloud_of_each_stack() -> None:
    job = load("up")["jobs"]["nonprod"]
    for entry in job["strategy"]["matrix"]["include"]:
        assert entry["cloud"] == BACKEND_CLOUD[backend_of(entry["stack"])], entry["stack"]
        login = steps_using(job, LOGIN_ACTION[entry["cloud"]])
        assert [s["if"] for s in login] == [f"matrix.cloud == '{entry['cloud']}'"]


def test_one_deploy_per_stack_at_a_time_and_none_cancelled() -> None:
    for name, job in deploy_jobs().items():
        expression = up_stack(job).removeprefix("${{ ").removesuffix(" }}")
        assert job["concurrency"] == {
            "group": f"pulumi-up-${{{{ {expression} }}}}",
            "cancel-in-progress": False,
        }, name


@pytest.mark.parametrize("name", ["preview", "up"])
def test_clouds_only_through_oidc(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"]["id-token"] == "write"
    logins = [
        s for job in workflow["jobs"].values() for s in job["steps"] if action(s) in OIDC_INPUTS
    ]
    assert {action(s) for s in logins} == set(OIDC_INPUTS)
    for step in logins:
        assert set(step["with"]) >= OIDC_INPUTS[action(step)], step["name"]


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_cloud_key_and_no_other_secret(path: Path) -> None:
    text = path.read_text()
    assert [key for key in CLOUD_KEYS if key in text] == []
    assert set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text)) <= ALLOWED_SECRETS


def test_ci_runs_make_test_on_push_and_pull_request_without_cloud_access() -> None:
    workflow = load("ci")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert [s["run"] for s in job["steps"] if "run" in s] == ["make test"]
    assert steps_using(job, "actions/setup-python")[0]["with"]["python-version"] == "3.11"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_version(path: Path) -> None:
    for used in re.findall(r"uses: (\S+)", path.read_text()):
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@v?\d[\w.]*", used), used


@pytest.mark.parametrize("name", ["preview", "up"])
def test_the_dev_kubeconfig_context_is_the_stacks_kubernetes_context(name: str) -> None:
    contexts = {
        str(stack_file(s)["kubernetes:context"])
        for s in stack_names()
        if "kubernetes:context" in stack_file(s)
    }
    runs = [
        s["run"]
        for job in load(name)["jobs"].values()
        for s in job["steps"]
        if "update-kubeconfig" in s.get("run", "")
    ]
    aliases = [match.group(1) for run in runs if (match := re.search(r"--alias (\S+)", run))]
    assert len(aliases) == len(runs)
    assert set(aliases) == contexts
