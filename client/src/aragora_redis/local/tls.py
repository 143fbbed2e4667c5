"""A throwaway CA and server certificate for the loopback stack, made with the openssl CLI.

The server certificate is also the client certificate replicas and Sentinels
present to each other, so it carries both serverAuth and clientAuth. It names
``IP:127.0.0.1`` and ``DNS:localhost``: clients check the address Sentinel
reports, which is an IP unless hostnames are announced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalStackError

DAYS = "30"
SAN = ("IP:127.0.0.1", "DNS:localhost")
_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class CertFiles:
    """Paths of the generated PEM files."""

    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


def make_certs(directory: Path, *, names: tuple[str, ...] = SAN) -> CertFiles:
    """Create a CA and a server certificate for ``names`` (subjectAltName entries)."""
    if shutil.which("openssl") is None:
        raise LocalStackError("openssl not found on PATH: it is needed to make TLS certificates")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    d = directory
    files = CertFiles(d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key")
    ext = directory / "server.ext"
    ext.write_text(
        f"subjectAltName={','.join(names)}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    csr = directory / "server.csr"
    old_umask = os.umask(0o077)
    try:
        _openssl(
            "req", "-x509", *_EC, "-days", DAYS, "-subj", "/CN=aragora-redis local CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", str(files.ca_key), "-out", str(files.ca_cert),
        )  # fmt: skip
        _openssl(
            "req", "-new", *_EC, "-subj", "/CN=localhost",
            "-keyout", str(files.key), "-out", str(csr),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(files.ca_cert), "-CAkey", str(files.ca_key),
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", DAYS,
            "-extfile", str(ext), "-out", str(files.cert),
        )  # fmt: skip
    finally:
        os.umask(old_umask)
        csr.unlink(missing_ok=True)
        ext.unlink(missing_ok=True)
    for pem in (files.ca_cert, files.cert):
        pem.chmod(0o644)
    return files


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LocalStackError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")
