"""I/O-free decisions of the endpoint topology's control plane, and its HAProxy config."""

from __future__ import annotations

import pytest

from aragora_redis._parse import HostPort
from aragora_redis.errors import LocalStackError
from aragora_redis.haproxy import HaproxySpec, render_haproxy_cfg
from aragora_redis.local.routing import most_up_to_date, parse_routed, route_commands

SERVERS = ["redis-0", "redis-1", "redis-2"]
# `show servers state redis_master` of HAProxy 2.6 after `set server .../redis-1 state ready`
# and `.../redis-0 state maint` (redis-1 and redis-2 were configured `disabled`).
HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port"
)
STATE = "\n".join(
    [
        "1",
        HEADER,
        "3 redis_master 1 redis-0 127.0.0.1 0 1 1 1 0 1 0 0 0 0 0 0 - 23400 - 0 0 - - 0",
        "3 redis_master 2 redis-1 127.0.0.1 2 4 1 1 0 1 0 0 8 0 0 0 - 23401 - 0 0 - - 0",
        "3 redis_master 3 redis-2 127.0.0.1 0 5 1 1 4 1 0 0 8 0 0 0 - 23402 - 0 0 - - 0",
        "",
    ]
)


def test_the_replica_with_the_highest_offset_is_promoted() -> None:
    assert most_up_to_date({"redis-1": 100, "redis-2": 250}) == "redis-2"
    assert most_up_to_date({"redis-1": 250, "redis-2": 250}) == "redis-1"  # stable on ties
    assert most_up_to_date({"redis-1": None, "redis-2": 5}) == "redis-2"  # unreachable skipped


def test_no_answering_replica_means_nothing_to_promote() -> None:
    with pytest.raises(LocalStackError, match="nothing to promote"):
        most_up_to_date({"redis-1": None})


def test_a_switch_readies_the_new_primary_first_and_keeps_sessions() -> None:
    line = route_commands("redis-1", SERVERS)
    assert line.split("; ") == [
        "set server redis_master/redis-1 state ready",
        "set server redis_master/redis-0 state maint",
        "set server redis_master/redis-2 state maint",
    ]
    assert "shutdown" not in line


def test_a_reset_switch_cuts_every_session() -> None:
    line = route_commands("redis-2", SERVERS, reset=True)
    cuts = [c for c in line.split("; ") if c.startswith("shutdown sessions server")]
    assert cuts == [f"shutdown sessions server redis_master/{s}" for s in SERVERS]


def test_routing_to_an_unknown_server_is_refused() -> None:
    with pytest.raises(LocalStackError, match="not a server"):
        route_commands("redis-9", SERVERS)


def test_the_routed_server_is_the_running_one_out_of_maintenance() -> None:
    assert parse_routed(STATE) == ["redis-1"]
    assert parse_routed(STATE, backend="other") == []
    assert parse_routed("") == []


def test_control_plane_config_has_no_health_check_and_one_ready_server() -> None:
    spec = HaproxySpec(
        servers=(HostPort("127.0.0.1", 1), HostPort("127.0.0.1", 2)),
        routed_by_control_plane=True,
        admin_socket="/run/x/admin.sock",
    )
    cfg = render_haproxy_cfg(spec)
    assert "    stats socket /run/x/admin.sock mode 600 level admin\n" in cfg
    assert "tcp-check" not in cfg
    assert "shutdown-sessions" not in cfg
    assert "    server redis-0 127.0.0.1:1\n" in cfg
    assert "    server redis-1 127.0.0.1:2 disabled\n" in cfg


def test_a_readonly_reply_is_recognised_through_the_cause_chain() -> None:
    from redis.exceptions import ConnectionError, ReadOnlyError

    from aragora_redis._moved import Moved, PrimaryMoved
    from aragora_redis.drill.observe import is_readonly
    from aragora_redis.errors import RedisUnavailable

    wrapped = RedisUnavailable("sessions.put")
    wrapped.__cause__ = ReadOnlyError("You can't write against a read only replica.")
    assert is_readonly(wrapped)
    moved = RedisUnavailable("sessions.put")
    moved.__cause__ = PrimaryMoved("127.0.0.1:1", Moved("READONLY", elsewhere=True))
    assert is_readonly(moved)
    assert is_readonly(PrimaryMoved("x", Moved("REDIRECT", elsewhere=True, redirect=("h", 1))))
    assert not is_readonly(PrimaryMoved("x", Moved("LOADING", elsewhere=True)))
    assert not is_readonly(ConnectionError("reset"))


def test_readonly_errors_later_than_half_a_second_after_the_endpoint_moved_are_counted() -> None:
    from aragora_redis.drill.observe import Observations, Verified, fault_figures

    obs = Observations()
    obs.ack(1.0, "k1")
    for t in (2.1, 2.4, 2.6, 3.0):
        obs.error(t, "naive", write=True, readonly=True)
    figures = fault_figures(obs, Verified(), 1.0, 5.0, [(2.0, "endpoint-moved")], with_events=False)
    assert figures["readonly_errors"] == 4
    assert figures["readonly_late"] == 2


def test_the_endpoint_topology_has_its_own_faults() -> None:
    from aragora_redis.drill import faults as f
    from aragora_redis.errors import ConfigError

    assert [x.name for x in f.faults_for("endpoint")] == ["planned", "kill", "freeze"]
    assert f.faults_for("sentinel") == f.FAULTS
    assert [x.name for x in f.parse_faults("all", f.ENDPOINT_FAULTS)] == [
        "planned",
        "kill",
        "freeze",
    ]
    with pytest.raises(ConfigError, match="--faults"):
        f.parse_faults("sentinel-down", f.ENDPOINT_FAULTS)
