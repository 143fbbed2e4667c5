"""I/O-free parsing and rendering of the values inside ARAGORA_REDIS_* variables.

Every parser takes the variable name so that its :class:`ConfigError` names it,
and shows the bad value back (URLs with the password masked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .errors import ConfigError

T = TypeVar("T")

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
MASK = "***"
#: Ten years: the longest session TTL accepted.
MAX_TTL = 10 * 365 * 86400


class HostPort(NamedTuple):
    """A host and a port, as found in SENTINEL_HOSTS and CLUSTER_NODES."""

    host: str
    port: int

    def render(self) -> str:
        """``host:port``, with IPv6 addresses in brackets."""
        return f"{bracket(self.host)}:{self.port}"


class UrlParts(NamedTuple):
    """The fields of a ``redis://`` or ``rediss://`` URL.

    ``ssl_ca_certs`` is the ``?ssl_ca_certs=<path>`` query parameter: redis-py's
    ``from_url`` passes it to the TLS connection, so a URL-only consumer trusts a
    private CA without a change to the process' trust store.
    """

    ssl: bool
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    ssl_ca_certs: str | None = None


def text(value: object) -> str:
    """A reply value as ``str`` (redis-py gives bytes unless decode_responses is on)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def bracket(host: str) -> str:
    """Put an IPv6 address in brackets so that a port can follow it."""
    return f"[{host}]" if ":" in host else host


def _read(
    parse: Callable[[str], T], variable: str, raw: str, expected: str, shown: str | None = None
) -> T:
    """``parse`` of ``raw`` stripped; its ValueError as a :class:`ConfigError` for ``variable``
    showing ``shown`` (default: ``raw``) and what is ``expected``."""
    try:
        return parse(raw.strip())
    except ValueError:
        shown = raw if shown is None else shown
        raise ConfigError(variable, f"got {shown!r}, expected {expected}") from None


def parse_bool(variable: str, raw: str) -> bool:
    """Accept true/false/1/0/yes/no/on/off in any case."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(variable, f"got {raw!r}, expected true or false (also 1/0, yes/no, on/off)")


def render_bool(value: bool) -> str:
    """Booleans are always rendered as literal ``true`` / ``false``."""
    return "true" if value else "false"


def parse_int(variable: str, raw: str, *, low: int, high: int) -> int:
    """An integer in ``low..high``."""
    value = _read(int, variable, raw, f"a whole number from {low} to {high}")
    if not low <= value <= high:
        raise ConfigError(variable, f"got {value}, expected a whole number from {low} to {high}")
    return value


def parse_port(variable: str, raw: str) -> int:
    """A TCP port, 1..65535."""
    return parse_int(variable, raw, low=1, high=65535)


def parse_seconds(variable: str, raw: str, *, allow_zero: bool = False) -> float:
    """A finite, positive number of seconds (zero only when allowed)."""
    expected = "a number of seconds " + ("of 0 or more" if allow_zero else "above 0")
    value = _read(float, variable, raw, f"{expected}, e.g. 5.0")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(variable, f"got {raw!r}, expected {expected}, e.g. 5.0")
    return value


def parse_host_port(variable: str, item: str, default_port: int) -> HostPort:
    """One ``host[:port]``: split on the last colon; IPv6 as ``[addr]:port`` or bare."""
    text = item.strip()
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]")
        if not sep or not addr or (rest and not rest.startswith(":")):
            raise ConfigError(variable, f"got {item!r}, expected [ipv6-address]:port")
        return HostPort(addr, parse_port(variable, rest[1:]) if rest else default_port)
    if text.count(":") > 1:  # bare IPv6 address without a port
        return HostPort(text, default_port)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, ""
    if not host:
        raise ConfigError(variable, f"got {item!r}: the host is empty, expected host[:port]")
    return HostPort(host, parse_port(variable, port) if port else default_port)


def parse_host_list(variable: str, raw: str, default_port: int) -> tuple[HostPort, ...]:
    """``host[:port],...``: items trimmed, empty items dropped."""
    items = [item for item in raw.split(",") if item.strip()]
    return tuple(parse_host_port(variable, item, default_port) for item in items)


def render_host_list(hosts: tuple[HostPort, ...]) -> str:
    """The inverse of :func:`parse_host_list`."""
    return ",".join(h.render() for h in hosts)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:{MASK}@{parts.netloc.rpartition('@')[2]}"
    return parts._replace(netloc=netloc).geturl()


def parse_url(variable: str, raw: str) -> UrlParts:
    """Parse ``redis[s]://[[user]:password@]host[:port][/db]``."""
    shown = redact_url(raw)
    parts = _read(urlsplit, variable, raw, "redis[s]://[user:password@]host:port/db", shown)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(
            variable, f"got {shown!r}: bad port, expected redis[s]://[user:password@]host:port/db"
        )
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(
            variable,
            f"got {shown!r}: unknown scheme {parts.scheme!r}, expected redis:// or rediss://",
        )
    if not parts.hostname:
        raise ConfigError(variable, f"got {shown!r}: no host, expected redis[s]://host:port/db")
    path = parts.path.lstrip("/")
    if path and not (path.isascii() and path.isdigit()):
        raise ConfigError(
            variable, f"got {shown!r}: the database {path!r} is not a whole number, e.g. /0"
        )
    db = int(path) if path else 0
    cas = [v for v in parse_qs(parts.query).get("ssl_ca_certs", []) if v.strip()]
    if len(set(cas)) > 1:
        raise ConfigError(variable, f"got {shown!r}: ssl_ca_certs is given twice, differently")
    return UrlParts(
        ssl=parts.scheme == "rediss",
        host=parts.hostname,
        port=6379 if port is None else port,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        ssl_ca_certs=cas[0] if cas else None,
    )


def render_url(parts: UrlParts) -> str:
    """The inverse of :func:`parse_url`: credentials percent-encoded.

    The CA path goes into the URL only with TLS (``rediss://``), where it is used.
    """
    scheme = "rediss" if parts.ssl else "redis"
    auth = ""
    if parts.password is not None:
        auth = f"{quote(parts.username or '', safe='')}:{quote(parts.password, safe='')}@"
    elif parts.username:
        auth = f"{quote(parts.username, safe='')}@"
    query = ""
    if parts.ssl and parts.ssl_ca_certs:
        query = f"?ssl_ca_certs={quote(parts.ssl_ca_certs, safe='/')}"
    return f"{scheme}://{auth}{bracket(parts.host)}:{parts.port}/{parts.db}{query}"


def url_with_ca(variable: str, url: str, ca: str | None) -> str:
    """``url`` with its ``ssl_ca_certs`` parameter set to ``ca`` (dropped when None)."""
    return render_url(parse_url(variable, url)._replace(ssl_ca_certs=ca))
