"""Run the real Pulumi program (``infra/__main__.py``) under Pulumi's mocks.

Each run happens in a fresh thread: Pulumi keeps its settings, config and root
stack in context variables and an event loop per thread, so a new thread is a
clean runtime and runs cannot leak into each other. The mocks record every
declared resource (inputs, parent, ``protect``), answer the subnet lookups,
and fake the attributes AWS computes (endpoint addresses, port, ARNs, the
random password).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import runpy
import sys
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

from .stack_config import PROJECT, ROOT, as_pulumi_config, default_subnets

if TYPE_CHECKING:
    from aragora_redis import RedisSettings

PROGRAM = ROOT / "infra"
#: What the mocked RandomPassword returns: every special ElastiCache allows, so
#: the URL round trip is tested with the hardest characters.
FAKE_PASSWORD_CHARS = "Aa0!&#$^<>-"
GET_SUBNET = "aws:ec2/getSubnet:getSubnet"

with warnings.catch_warnings():
    # pulumi_aws.ec2 warns about its own deprecated resources as it is imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("pulumi_aws.ec2").get_subnet  # noqa: B018 (loads the lazy module)


@dataclass(frozen=True)
class Secret:
    """An input the program marked secret, unwrapped from Pulumi's wire form."""

    value: Any


def unwrap(value: Any) -> Any:
    """``value`` with Pulumi's secret envelopes replaced by :class:`Secret`."""
    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return Secret(unwrap(value["value"]))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@dataclass(frozen=True)
class Declared:
    """One resource the program declared: its inputs (secrets as :class:`Secret`),
    with the attributes the mocks computed added."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    protect: bool
    #: ``additional_secret_outputs``: the provider SDK's secret fields (CrossGuard sees them).
    secret_outputs: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.type} {self.name!r}"


@dataclass(frozen=True)
class Exported:
    """One stack output, resolved."""

    value: Any
    secret: bool


@dataclass
class Run:
    """What one program run declared and exported, or the error it raised."""

    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Exported] = field(default_factory=dict)
    error: BaseException | None = None
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Declared]:
        """The resources of a Pulumi type token, e.g. ``aws:elasticache/user:User``."""
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Declared:
        """The only resource of ``type_``."""
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Declared:
        """The resource with ``urn``."""
        return next(r for r in self.resources if r.urn == urn)

    def not_under(self, component_type: str) -> list[str]:
        """The resources that do not descend from the only ``component_type`` (with the
        parents found on the way); the component itself is not listed."""
        component = self.one(component_type)
        urns = {r.urn for r in self.resources}
        outside = []
        for resource in self.resources:
            chain, urn = [], resource.parent
            while urn in urns and urn != component.urn:
                chain.append(urn)
                urn = self.by_urn(urn).parent
            if resource is not component and urn != component.urn:
                outside.append(f"{resource} (parents {chain})")
        return outside


R = TypeVar("R", bound=Run)


def misflagged_outputs(run: Run) -> list[str]:
    """The outputs whose secrecy is wrong: every credential variable and the env map
    must be secret outputs, every other output must not."""
    from infra.outputs import CREDENTIAL_VARIABLES, ENV_MAP_OUTPUT

    return [
        f"output {name}: secret={output.secret}"
        for name, output in run.outputs.items()
        if output.secret is not (name in CREDENTIAL_VARIABLES or name == ENV_MAP_OUTPUT)
    ]


def evaluated(run: R, label: str = "") -> R:
    """``run``, which must have evaluated without an error (``label`` names it if it did not)."""
    assert run.error is None, f"{label}: {run.error!r}" if label else repr(run.error)
    return run


def client_view(run: Run, *others: str) -> tuple[dict[str, str], RedisSettings]:
    """The env map output and the client's :class:`~aragora_redis.RedisSettings` read from it.

    Every stack output but ``others`` must be one variable of the map, with its value;
    the settings must render the map back unchanged.
    """
    from aragora_redis import RedisSettings
    from infra.outputs import ENV_MAP_OUTPUT

    env: dict[str, str] = run.outputs[ENV_MAP_OUTPUT].value
    skipped = (ENV_MAP_OUTPUT, *others)
    variables = {k: v.value for k, v in run.outputs.items() if k not in skipped}
    assert variables == env, "each variable output must equal its entry in the map"
    settings = RedisSettings.from_env(env)
    assert settings.to_env() == env
    return env, settings


class Mocks(pulumi.runtime.Mocks):
    """Fakes what AWS computes and answers the subnet lookups."""

    def __init__(self, subnets: Mapping[str, tuple[str, str]]) -> None:
        self.subnets = subnets

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        state = {**args.inputs, **computed(args.typ, args.name, args.inputs)}
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token != GET_SUBNET:
            raise NotImplementedError(f"no mock for invoke {args.token}")
        subnet_id = args.args["id"]
        if subnet_id not in self.subnets:
            return {}, [("id", f"no subnet {subnet_id}")]
        zone, vpc = self.subnets[subnet_id]
        return {"id": subnet_id, "availabilityZone": zone, "vpcId": vpc}, []


def computed(type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes the provider would compute for a resource of ``type_``.

    Every resource gets an ARN, and a ``name`` when the program left it to
    auto-naming (the logical name and a suffix, as Pulumi does).
    """
    out: dict[str, Any] = {
        "arn": f"arn:aws:mock:us-east-1:123456789012:{name}",
        "name": inputs.get("name") or f"{name}-a1b2c3d",
    }
    if type_ == "aws:elasticache/replicationGroup:ReplicationGroup":
        group = inputs["replicationGroupId"]
        host = f"{group}.x1y2z3.use1.cache.amazonaws.com"
        if inputs.get("clusterMode") == "enabled":
            out["configurationEndpointAddress"] = f"clustercfg.{host}"
        else:
            out["primaryEndpointAddress"] = f"master.{host}"
            out["readerEndpointAddress"] = f"replica.{host}"
        out["port"] = inputs.get("port", 6379)
        out["arn"] = f"arn:aws:elasticache:us-east-1:123456789012:replicationgroup:{group}"
    elif type_ == "random:index/randomPassword:RandomPassword":
        length = int(inputs["length"])
        out["result"] = (FAKE_PASSWORD_CHARS * length)[:length]
    elif type_ == "random:index/randomId:RandomId":
        out |= {"hex": "a1b2c3d4", "b64Url": "obLD1A"}
    return out


class _Monitor(MockMonitor):
    """Keeps each registration's parent, ``protect`` and secret output names, which the
    mocks do not see."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, tuple[str, bool, tuple[str, ...]]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # SDK
        self.options[response.urn] = (
            request.parent,
            request.protect,
            tuple(request.additionalSecretOutputs),
        )
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]  # SDK
        self.options[response.urn] = (
            request.parent,
            False,
            tuple(request.additionalSecretOutputs),
        )
        return response


def run_program(
    config: Mapping[str, Any],
    stack: str = "test",
    subnets: Mapping[str, tuple[str, str]] | None = None,
    mocks: Mocks | None = None,
) -> Run:
    """Run ``infra/__main__.py`` with ``config`` (YAML-shaped values) as stack ``stack``.

    ``mocks`` replaces the default :class:`Mocks` (a backend's tests pass a
    subclass that answers its own invokes and computed attributes).
    """
    result = Run()
    subnets = default_subnets(config) if subnets is None else subnets
    mocks = Mocks(subnets) if mocks is None else mocks
    thread = threading.Thread(target=_run, args=(config, stack, mocks, result))
    thread.start()
    thread.join()
    return result


def _run(config: Mapping[str, Any], stack: str, mocks: Mocks, result: Run) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    logger = logging.Logger(f"pulumi-{stack}")
    logger.addHandler(_Collect(result.warnings))
    monitor = _Monitor(mocks)
    pulumi.runtime.set_all_config(as_pulumi_config(config), [])
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=monitor
    )

    async def collect() -> None:
        root = pulumi.runtime.get_root_resource()
        for name, value in getattr(root, "outputs", {}).items():
            out = pulumi.Output.from_input(value)
            result.outputs[name] = Exported(await out.future(), await out.is_secret())

    @pulumi.runtime.test  # type: ignore[untyped-decorator]  # the SDK leaves it unannotated
    def program() -> Any:
        saved = list(sys.path)
        try:
            runpy.run_path(str(PROGRAM), run_name="__main__")
        finally:
            sys.path[:] = saved
        return asyncio.ensure_future(collect())

    try:
        program()
    except BaseException as exc:
        result.error = exc
    finally:
        for urn, registration in monitor.resources.items():
            parent, protect, secret_outputs = monitor.options.get(urn, ("", False, ()))
            type_ = urn.split("::")[2].split("$")[-1]
            result.resources.append(
                Declared(
                    urn,
                    type_,
                    urn.split("::")[3],
                    unwrap(registration.state),
                    parent,
                    protect,
                    secret_outputs,
                )
            )
        loop.close()


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@dataclass(frozen=True)
class ErrorCase:
    """A change to a stack file and the named error it must give.

    ``key`` is the config key the error names, ``shows`` what its line must contain.
    A table over several stack files names the one changed in ``stack``, and the
    subnets its mocks report in ``subnets`` (None: the stack's own).
    """

    id: str
    changes: dict[str, Any]
    key: str
    shows: tuple[str, ...]
    stack: str = ""
    subnets: dict[str, tuple[str, str]] | None = None

    def check(self, run: Run, *, outputs: bool = True) -> None:
        """``run`` (of the stack file with :attr:`changes`) stopped with this case's error
        (see :func:`assert_named_error`)."""
        assert_named_error(run, self.key, self.shows, self.id, outputs=outputs)


def case_ids(cases: Sequence[Any]) -> list[str]:
    """The pytest ids of a table of cases (anything with an ``id``)."""
    return [c.id for c in cases]


def assert_named_error(
    run: Run, key: str, shows: Sequence[str], label: str = "", *, outputs: bool = True
) -> None:
    """``run`` stopped with a :class:`StackConfigError` naming ``key`` before any resource.

    The problem of ``key`` must contain every text of ``shows``; with ``outputs`` the
    run exported nothing either.
    """
    from infra.settings import StackConfigError

    error = run.error
    assert isinstance(error, StackConfigError), f"{label}: {error!r}"
    assert key in error.keys, f"{label}: {error}"
    problem = next(p for p in error.problems if p.key == key)
    for fragment in shows:
        assert fragment in str(problem), f"{label}: {fragment!r} not in {problem}"
    assert run.resources == [], f"{label}: declared {[str(r) for r in run.resources]}"
    if outputs:
        assert run.outputs == {}
