"""``aragora-redis env``: stack outputs to a dotenv file, a Kubernetes Secret or JSON.

Reads ``pulumi stack output --json --show-secrets`` (``--from FILE`` or ``--from -``
for stdin) or, by default, the local stack's ``.local/outputs.json``. Secrets are
written only to ``--out`` (mode 0600); the terminal gets a masked summary, and
the secret text itself only with ``--out -``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from .. import _outputs as o
from ..errors import ConfigError
from ..local.outputs import env_file_text
from ..local.record import write_private

DEFAULT_SOURCE = Path(".local/outputs.json")
DEFAULT_OUT = {
    "dotenv": ".env",
    "k8s-secret": "aragora-redis-secret.yaml",
    "json": "aragora-redis-env.json",
}
CA_FILE_NAME = "aragora-redis-ca.pem"


def register(groups: Any) -> None:
    """Add ``env``."""
    p = groups.add_parser(
        "env",
        help="write ARAGORA_REDIS_* from stack outputs as dotenv, a Kubernetes Secret or JSON",
        description=(
            "Reads `pulumi stack output --json --show-secrets` (--from FILE, or --from - "
            "for stdin; default .local/outputs.json), validates it and writes the variables."
        ),
    )
    p.add_argument("--from", dest="source", metavar="FILE", help="outputs JSON file, - for stdin")
    p.add_argument("--format", choices=tuple(DEFAULT_OUT), default="dotenv", help="default dotenv")
    p.add_argument(
        "--out",
        help="file to write (mode 0600), - for stdout; default .env, "
        "aragora-redis-secret.yaml or aragora-redis-env.json by format",
    )
    p.add_argument(
        "--ca-file",
        help=f"where to write the CA bundle (default {CA_FILE_NAME} next to --out); "
        f"k8s-secret: the path it is mounted at in the pod (default {o.K8S_CA_MOUNT_PATH})",
    )
    p.add_argument("--name", default="aragora-redis", help="k8s-secret: Secret name")
    p.add_argument("--namespace", help="k8s-secret: namespace (default: none in the manifest)")
    p.add_argument(
        "--base64",
        action="store_true",
        help="k8s-secret: base64 values under data instead of plain stringData",
    )
    p.set_defaults(run=run_env)


def read_source(source: str | None) -> tuple[str, str]:
    """The outputs text and a name for it in messages."""
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source) if source else DEFAULT_SOURCE
    if not path.is_file():
        hint = (
            "pipe `pulumi stack output --json --show-secrets` into --from -, "
            "or run `aragora-redis local up`"
        )
        raise ConfigError("--from", f"{str(path)!r} is not a file; {hint}")
    return path.read_text(), str(path)


def _read_ca(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(o.CA_VARIABLE, f"cannot read {path!r}: {exc.strerror}") from None


def _ca_path(args: argparse.Namespace, out: str) -> str:
    if args.format == "k8s-secret":
        return str(args.ca_file or o.K8S_CA_MOUNT_PATH)
    if args.ca_file:
        return str(Path(args.ca_file).resolve())
    base = Path.cwd() if out == "-" else Path(out).resolve().parent
    return str(base / CA_FILE_NAME)


def run_env(args: argparse.Namespace, console: Console) -> int:
    """Validate the outputs and write them where ``--out`` says; print a masked summary."""
    text, source = read_source(args.source)
    outputs = o.parse_outputs(text, source)
    local_ca = outputs.env.get(o.CA_VARIABLE)
    if args.format == "k8s-secret" and outputs.ca_pem is None and local_ca:
        # A path on this machine means nothing in a pod: ship the bundle in the Secret.
        outputs = o.with_ca_file(outputs, _read_ca(local_ca))
    out = args.out or DEFAULT_OUT[args.format]
    ca_path = _ca_path(args, out) if outputs.ca_pem is not None else None
    settings, env = o.contract_env(outputs, ca_path)
    if args.format == "k8s-secret":
        body = o.k8s_secret_text(
            env,
            outputs.ca_pem,
            name=args.name,
            namespace=args.namespace,
            encoding="data" if args.base64 else "stringData",
        )
    elif args.format == "json":
        body = o.json_text(env)
    else:
        body = env_file_text(env)
    if outputs.ca_pem is not None and ca_path is not None and args.format != "k8s-secret":
        Path(ca_path).parent.mkdir(parents=True, exist_ok=True)
        Path(ca_path).write_text(outputs.ca_pem)
    # With --out - stdout carries the secrets; the summary goes to stderr so pipes stay clean.
    say = Console(stderr=True, soft_wrap=True) if out == "-" else console
    if out == "-":
        sys.stdout.write(body)
        sys.stdout.flush()
    else:
        write_private(Path(out), body)
    where = "stdout" if out == "-" else f"{out} (mode 0600)"
    say.print(
        f"{settings.describe()} from {source}: {len(env)} variables as {args.format} to {where}.",
        highlight=False,
    )
    if ca_path is not None:
        written = "in the Secret as " + o.K8S_CA_KEY if args.format == "k8s-secret" else "written"
        say.print(f"CA bundle {written}; {o.CA_VARIABLE}={ca_path}", highlight=False)
    for name, value in o.masked_env(settings, ca_path).items():
        say.print(f"  {name}={value}", highlight=False, markup=False)
    return 0
