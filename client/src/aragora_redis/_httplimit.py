"""I/O-free: what the ASGI and aiohttp rate-limit middlewares decide, written once.

Which limit applies to a path, which caller a request belongs to (the signed-in
user, else the client address, read from ``X-Forwarded-For`` only behind trusted
proxies), and the header fields and bodies of the answer. The header fields follow
draft-ietf-httpapi-ratelimit-headers-10 (structured fields; unchanged in -11)::

    RateLimit-Policy: "api";q=20;w=4
    RateLimit: "api";r=19;t=1

``q`` is the bucket size and ``r`` what is left of it, both in requests of the
limit's cost; ``w`` the seconds an empty bucket takes to fill; ``t`` the seconds
until the bucket is full again, or, on a denial, until the request would pass
(then equal to ``Retry-After``).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._bucket import Decision, validate
from .errors import ConfigError

Header = tuple[str, str]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The bucket scope of every HTTP limit: ``aragora:ratelimit:http:{<limit>:<caller>}``.
HTTP_SCOPE = "http"
#: Retry-After of a 503 when Redis is gone and the limiter is fail-closed: the
#: breaker's default recovery interval, after which one request probes Redis again.
UNAVAILABLE_RETRY_AFTER = 1
_QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"
_KEY_ESCAPES = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D", "\r": "%0D", "\n": "%0A"})
_MAX_HOP = 64  # longest X-Forwarded-For entry kept as a key when it is no address


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket per caller: ``rate`` tokens per second, ``burst`` at most, ``cost`` a request.

    ``name`` is the policy name in the headers and part of the bucket key: limits
    with the same name share their callers' buckets. Unnamed, a limit is named
    after the path pattern it is given for (the default limit: ``default``).
    """

    rate: float
    burst: float
    cost: float = 1
    name: str | None = None

    def __post_init__(self) -> None:
        validate(self.rate, self.burst, self.cost)
        if self.name is not None:
            _check_name(self.name)


# eq=False: a policy is made once per pattern, and hashing it by identity (a C slot)
# instead of by its six fields is measurable in the per-request bucket cache.
@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A limit as it is applied: its name and its ``RateLimit-Policy`` field, computed once."""

    name: str
    rate: float
    burst: float
    cost: float
    field: str
    quoted: str

    @classmethod
    def of(cls, limit: Limit, name: str) -> Policy:
        """The policy of ``limit`` under ``name`` (the limit's own name wins)."""
        name = limit.name or name
        _check_name(name)
        quota = math.floor(limit.burst / _unit(limit.cost) + 1e-9)
        window = max(1, math.ceil(limit.burst / limit.rate))
        quoted = _sf(name)
        field = f"{quoted};q={quota};w={window}"
        return cls(name, limit.rate, limit.burst, limit.cost, field, quoted)


@dataclass(frozen=True, slots=True)
class Reply:
    """A refusal: status, header fields and a small JSON body."""

    status: int
    headers: list[Header]
    body: bytes


def _unit(cost: float) -> float:
    return cost if cost > 0 else 1.0


def _check_name(name: str) -> None:
    if not name or not all(" " <= c <= "~" for c in name):
        raise ConfigError("name", f"got {name!r}, expected printable ASCII (a header value)")


def _sf(name: str) -> str:
    """``name`` as a structured-field String."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split(pattern: str) -> tuple[str, bool]:
    if not pattern.startswith("/"):
        raise ConfigError("path", f"got {pattern!r}, expected a path like /login or /api/*")
    return (pattern[:-1], True) if pattern.endswith("*") else (pattern, False)


class Patterns:
    """Paths to match: ``/login`` exactly, ``/api/*`` as a prefix; the longest match wins."""

    def __init__(self, items: Mapping[str, Policy | None]) -> None:
        self._exact: dict[str, Policy | None] = {}
        prefixes: list[tuple[str, Policy | None]] = []
        for pattern, value in items.items():
            path, is_prefix = _split(pattern)
            if is_prefix:
                prefixes.append((path, value))
            else:
                self._exact[path] = value
        self._prefixes = sorted(prefixes, key=lambda p: len(p[0]), reverse=True)

    def find(self, path: str) -> tuple[bool, Policy | None]:
        """Whether a pattern matches ``path``, and its value."""
        if path in self._exact:
            return True, self._exact[path]
        for prefix, value in self._prefixes:
            if path.startswith(prefix):
                return True, value
        return False, None


class HttpLimits:
    """Which limit applies to a request, and who the caller is.

    ``limits`` maps path patterns (``/login``, ``/api/*``) to limits; ``default``
    applies to every other path (none: other paths are not limited); ``exempt``
    patterns are never limited; ``trusted_proxies`` are the addresses or networks
    (``10.0.0.0/8``) whose ``X-Forwarded-For`` is believed.
    """

    def __init__(
        self,
        limits: Mapping[str, Limit] | None = None,
        *,
        default: Limit | None = None,
        exempt: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        rules: dict[str, Policy | None] = {
            pattern: Policy.of(limit, pattern) for pattern, limit in (limits or {}).items()
        }
        rules.update(dict.fromkeys(exempt))
        self._rules = Patterns(rules)
        self._default = None if default is None else Policy.of(default, "default")
        self.proxies: tuple[IPNetwork, ...] = tuple(_network(p) for p in trusted_proxies)

    def match(self, path: str) -> Policy | None:
        """The policy of ``path``, or None when it is exempt or not limited."""
        found, policy = self._rules.find(path)
        return policy if found else self._default

    def trusts(self, peer: str | None) -> bool:
        """Whether ``peer`` (the direct client's address) is a trusted proxy."""
        ip = _address(peer) if self.proxies else None
        return ip is not None and any(ip in net for net in self.proxies)

    def client_address(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str:
        """The client's address: ``peer``, or behind trusted proxies the first untrusted hop.

        ``forwarded_for`` holds the ``X-Forwarded-For`` field values in order. They are
        read from the right, and only while the hop that wrote them is trusted, so an
        entry the client made up is never reached. Behind proxies only, every hop
        trusted, the leftmost entry is the client.
        """
        if not self.trusts(peer):
            return _normal(peer)
        hops = [h.strip() for value in forwarded_for for h in value.split(",")]
        hops = [h for h in hops if h]
        found = _normal(peer)
        for hop in reversed(hops):
            ip = _address(_strip_port(hop))
            if ip is None:  # written by a trusted proxy, so no client's invention
                return hop[:_MAX_HOP]
            found = str(ip)
            if not any(ip in net for net in self.proxies):
                break
        return found


def _network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        wanted = "expected an address or network, e.g. 10.0.0.0/8"
        raise ConfigError("trusted_proxies", f"got {text!r}, {wanted}") from None


def _address(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


# Peers repeat, and parsing an address costs more than the rest of a request's decision.
@functools.lru_cache(maxsize=4096)
def _normal(peer: str | None) -> str:
    ip = _address(peer)
    return str(ip) if ip is not None else (peer or "unknown")[:_MAX_HOP]


def _strip_port(hop: str) -> str:
    if hop.startswith("["):  # [v6]:port
        return hop[1 : hop.find("]")] if "]" in hop else hop
    return hop.split(":", 1)[0] if hop.count(":") == 1 else hop


def identity(user: object) -> str | None:
    """The signed-in user's id, or None.

    ``user`` is a string, or an object like Starlette's ``request.user``
    (``is_authenticated``, then ``identity``, ``display_name`` or ``username``).
    """
    if user is None or isinstance(user, str):
        return user or None
    if getattr(user, "is_authenticated", True) is False:
        return None
    for attr in ("identity", "display_name", "username"):
        try:
            value = getattr(user, attr, None)
        except NotImplementedError:  # starlette.authentication.BaseUser
            continue
        if value:
            return str(value)
    return None


def caller_key(user: str | None, address: str) -> str:
    """``user:<id>`` for a signed-in user, else ``ip:<address>``."""
    return f"user:{user}" if user else f"ip:{address}"


@functools.lru_cache(maxsize=4096)
def peer_key(peer: str | None) -> str:
    """``ip:<address>`` of a direct client (no trusted proxy in between)."""
    return caller_key(None, _normal(peer))


@functools.lru_cache(maxsize=4096)
def bucket(policy: Policy, caller: str) -> str:
    """The bucket id (within :data:`HTTP_SCOPE`) of ``caller`` under ``policy``."""
    return f"{policy.name}:{caller}".translate(_KEY_ESCAPES)


def left(policy: Policy, decision: Decision) -> int:
    """``r`` of the ``RateLimit`` field: whole requests left in the bucket."""
    return max(0, math.floor(decision.remaining / _unit(policy.cost) + 1e-9))


def full_in(policy: Policy, decision: Decision) -> int:
    """``t`` of the ``RateLimit`` field of an allowed request: seconds until the bucket is full."""
    return max(0, math.ceil((policy.burst - decision.remaining) / policy.rate - 1e-9))


def headers(policy: Policy, decision: Decision) -> list[Header]:
    """``RateLimit-Policy`` and ``RateLimit`` for a decision (and ``Retry-After`` on a denial)."""
    r = left(policy, decision)
    if decision.allowed:
        return [
            ("RateLimit-Policy", policy.field),
            ("RateLimit", f"{policy.quoted};r={r};t={full_in(policy, decision)}"),
        ]
    reset = retry_after(decision)
    return [
        ("RateLimit-Policy", policy.field),
        ("RateLimit", f"{policy.quoted};r={r};t={reset}"),
        ("Retry-After", str(reset)),
    ]


def retry_after(decision: Decision) -> int:
    """Whole seconds until a denied request would pass (at least 1)."""
    return max(1, math.ceil(decision.retry_after - 1e-9))


def denied(policy: Policy, decision: Decision) -> Reply:
    """429 Too Many Requests: a problem+json body naming the policy."""
    body = {
        "type": _QUOTA_EXCEEDED,
        "title": "Too many requests",
        "status": 429,
        "violated-policies": [policy.name],
        "retry_after": retry_after(decision),
    }
    return _reply(429, headers(policy, decision), body)


def unavailable(policy: Policy, seconds: int = UNAVAILABLE_RETRY_AFTER) -> Reply:
    """503: Redis is gone and the limiter is fail-closed.

    No ``RateLimit`` field: nothing knows what is left of the bucket.
    """
    fields = [("RateLimit-Policy", policy.field), ("Retry-After", str(seconds))]
    body = {"title": "Rate limiter unavailable", "status": 503, "retry_after": seconds}
    return _reply(503, fields, body)


def _reply(status: int, fields: list[Header], body: Mapping[str, object]) -> Reply:
    fields = [*fields, ("Content-Type", "application/problem+json")]
    return Reply(status, fields, json.dumps(body, separators=(",", ":")).encode())
