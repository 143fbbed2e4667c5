"""The network-fault plan (I/O-free): addresses, cuts, the nftables script, stale tables;
and the configs a stack with its own addresses renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from aragora_redis.errors import LocalStackError
from aragora_redis.haproxy import render_haproxy_cfg
from aragora_redis.local import netplan, spec
from aragora_redis.local.netplan import Cut, Loss


def test_each_role_has_its_own_address_in_the_subnet() -> None:
    net = netplan.subnet(9)
    assert net == "127.77.9"
    assert netplan.node_host(net, "data", 0) == "127.77.9.10"
    assert netplan.node_host(net, "data", 2) == "127.77.9.12"
    assert netplan.node_host(net, "sentinel", 1) == "127.77.9.21"
    assert netplan.node_host(net, "haproxy", 0) == "127.77.9.30"
    assert netplan.client_host(net, "naive") == "127.77.9.41"
    assert netplan.client_host(net, "url_only") == "127.77.9.42"


@pytest.mark.parametrize("bad", ["127.0.0", "10.77.9", "127.77.0", "127.77.255", "127.77.x"])
def test_only_our_subnets_are_accepted(bad: str) -> None:
    with pytest.raises(LocalStackError):
        netplan.check_subnet(bad)


def test_a_cut_drops_both_directions_between_exactly_its_two_sets() -> None:
    cut = Cut.between({"127.77.9.10", "127.77.9.41"}, {"127.77.9.11", "127.0.0.1"})
    script = netplan.ruleset("aragora_redis_part_12_1", [cut])
    assert script.startswith(
        "table ip aragora_redis_part_12_1\ndelete table ip aragora_redis_part_12_1\n"
    )
    assert "set cut0a { type ipv4_addr; elements = { 127.77.9.10, 127.77.9.41 } }" in script
    assert "set cut0b { type ipv4_addr; elements = { 127.0.0.1, 127.77.9.11 } }" in script
    assert "ip saddr @cut0a ip daddr @cut0b drop" in script
    assert "ip saddr @cut0b ip daddr @cut0a drop" in script
    assert "type filter hook output priority 0; policy accept;" in script


def test_loss_drops_a_share_of_the_packets_from_and_to_the_address() -> None:
    script = netplan.ruleset("aragora_redis_part_1_2", loss=Loss(frozenset({"127.77.9.10"}), 5))
    assert "ip saddr 127.77.9.10 numgen random mod 100 < 5 drop" in script
    assert "ip daddr 127.77.9.10 numgen random mod 100 < 5 drop" in script


def test_rules_never_touch_other_addresses() -> None:
    with pytest.raises(LocalStackError, match="not a loopback"):
        netplan.ruleset("aragora_redis_part_1_1", [Cut.between({"10.0.0.1"}, {"127.77.9.10"})])
    with pytest.raises(LocalStackError, match="only be cut from"):
        # The host address shared with every process: never against another host address.
        netplan.ruleset("aragora_redis_part_1_1", [Cut.between({"127.0.0.1"}, {"127.0.0.2"})])
    with pytest.raises(LocalStackError, match="own addresses"):
        netplan.ruleset("aragora_redis_part_1_1", loss=Loss(frozenset({"127.0.0.1"}), 5))
    with pytest.raises(LocalStackError, match="not one of ours"):
        netplan.ruleset("filter")
    with pytest.raises(LocalStackError, match="not one of ours"):
        netplan.delete_argv("nat")
    with pytest.raises(LocalStackError, match="both sides"):
        Cut.between({"127.77.9.10"}, {"127.77.9.10", "127.77.9.11"})


def test_stale_tables_are_ours_whose_owner_is_gone() -> None:
    listing = (
        "table ip filter\n"
        "table ip aragora_redis_part_100_1\n"
        "table ip aragora_redis_part_200_3\n"
        "table inet aragora_redis_part_300_1\n"
        "table ip aragora_redis_partx_400_1\n"
    )
    assert netplan.stale_tables(listing, alive=[200]) == ["aragora_redis_part_100_1"]
    assert netplan.delete_argv("aragora_redis_part_100_1") == [
        "nft",
        "delete",
        "table",
        "ip",
        "aragora_redis_part_100_1",
    ]


def test_flap_goes_down_and_up_each_period_and_ends_healed() -> None:
    steps = netplan.flap_schedule(4.0)
    assert steps == [(0.0, True), (1.0, False), (2.0, True), (3.0, False), (4.0, False)]
    assert netplan.flap_schedule(10.0)[-1] == (10.0, False)
    with pytest.raises(LocalStackError):
        netplan.flap_schedule(0.5)


def _options(tmp_path: Path, subnet: str | None) -> spec.StackOptions:
    return spec.StackOptions(
        topology="sentinel",
        directory=tmp_path,
        ports=(7000, 7001, 7002),
        sentinel_ports=(7100, 7101, 7102),
        haproxy_port=7200,
        subnet=subnet,
    ).resolved()


def test_a_stack_with_a_subnet_binds_and_connects_from_each_nodes_address(
    tmp_path: Path,
) -> None:
    options = _options(tmp_path, "127.77.9")
    nodes = {n.name: n for n in spec.nodes(options)}
    replica = spec.render(options, nodes["redis-1"])
    assert "bind 127.77.9.11\nbind-source-addr 127.77.9.11\n" in replica
    assert "replicaof 127.77.9.10 7000" in replica
    assert "replica-announce-ip 127.77.9.11" in replica
    sentinel = spec.render(options, nodes["sentinel-2"])
    assert "bind 127.77.9.22\nbind-source-addr 127.77.9.22\n" in sentinel
    assert "sentinel monitor aragora-master 127.77.9.10 7000 2" in sentinel
    assert "sentinel announce-ip 127.77.9.22" in sentinel
    haproxy = render_haproxy_cfg(spec.haproxy_spec(options))
    assert "    bind 127.77.9.30:7200" in haproxy
    assert "    source 127.77.9.30" in haproxy
    assert "127.77.9.12:7002" in haproxy
    settings = spec.settings_for(options)
    hosts = [h.host for h in settings.sentinel_hosts]
    assert hosts == ["127.77.9.20", "127.77.9.21", "127.77.9.22"]
    assert (settings.host, settings.port) == ("127.77.9.30", 7200)


def test_without_a_subnet_the_configs_are_unchanged(tmp_path: Path) -> None:
    options = _options(tmp_path, None)
    nodes = {n.name: n for n in spec.nodes(options)}
    replica = spec.render(options, nodes["redis-1"])
    assert "bind 127.0.0.1\n" in replica
    assert "bind-source-addr" not in replica
    assert "source " not in render_haproxy_cfg(spec.haproxy_spec(options))
    assert {n.host for n in nodes.values()} == {"127.0.0.1"}


def test_a_standalone_stack_takes_no_subnet(tmp_path: Path) -> None:
    with pytest.raises(LocalStackError, match="sentinel, cluster, endpoint"):
        spec.StackOptions(
            topology="standalone", directory=tmp_path, ports=(7000,), subnet="127.77.9"
        ).resolved()


def test_an_endpoint_stack_with_a_subnet_and_the_sentinel_stacks_write_bound(
    tmp_path: Path,
) -> None:
    options = spec.StackOptions(
        topology="endpoint",
        directory=tmp_path,
        ports=(7000, 7001, 7002),
        haproxy_port=7200,
        subnet="127.77.9",
    ).resolved()
    nodes = {n.name: n for n in spec.nodes(options)}
    replica = spec.render(options, nodes["redis-2"])
    assert "bind 127.77.9.12\nbind-source-addr 127.77.9.12\n" in replica
    assert "replicaof 127.77.9.10 7000" in replica
    assert "    source 127.77.9.30" in render_haproxy_cfg(spec.haproxy_spec(options))
    assert spec.host_of(options, "control", 0) == "127.77.9.50"
    # The bound of lost default writes in a partition: the same as the Sentinel stack's.
    sentinel = spec.render(_options(tmp_path, "127.77.9"), nodes["redis-0"])
    for line in ("min-replicas-to-write 1", "min-replicas-max-lag 10"):
        assert line in spec.render(options, nodes["redis-0"])
        assert line in sentinel


def test_delay_queues_only_the_packets_leaving_our_addresses() -> None:
    chain = netplan.chain_name(4194304)
    assert chain == "aragora_redis_part_4194304"
    assert len(chain) <= 28
    queue = netplan.queue_number(4194304)
    argv = netplan.delay_argv(chain, queue, {"127.77.9.10"})
    assert argv == [
        ["iptables-legacy", "-N", chain],
        [
            "iptables-legacy",
            "-A",
            chain,
            "-j",
            "NFQUEUE",
            "--queue-num",
            str(queue),
            "--queue-bypass",
        ],
        ["iptables-legacy", "-I", "OUTPUT", "-s", "127.77.9.10/32", "-j", chain],
    ]
    with pytest.raises(LocalStackError):
        netplan.delay_argv(chain, queue, {"127.0.0.1"})


def test_undelay_removes_the_jumps_then_the_chain() -> None:
    jump = "-A OUTPUT -s 127.77.9.10/32 -j aragora_redis_part_7"
    assert netplan.undelay_argv("aragora_redis_part_7", [jump]) == [
        ["iptables-legacy", "-D", "OUTPUT", "-s", "127.77.9.10/32", "-j", "aragora_redis_part_7"],
        ["iptables-legacy", "-F", "aragora_redis_part_7"],
        ["iptables-legacy", "-X", "aragora_redis_part_7"],
    ]


def test_stale_chains_are_ours_whose_owner_is_gone_with_their_jumps() -> None:
    listing = (
        "-P OUTPUT ACCEPT\n"
        "-N aragora_redis_part_7\n"
        "-N aragora_redis_part_8\n"
        "-N other\n"
        "-A OUTPUT -s 127.77.9.10/32 -j aragora_redis_part_7\n"
        "-A OUTPUT -s 127.77.9.10/32 -j aragora_redis_part_8\n"
        "-A aragora_redis_part_7 -j NFQUEUE --queue-num 1007 --queue-bypass\n"
    )
    assert netplan.stale_chains(listing, alive=[8]) == {
        "aragora_redis_part_7": ["-A OUTPUT -s 127.77.9.10/32 -j aragora_redis_part_7"]
    }


def test_a_cluster_with_a_subnet_gives_each_node_its_address(tmp_path: Path) -> None:
    options = spec.StackOptions(
        topology="cluster",
        directory=tmp_path,
        ports=(7000, 7001, 7002, 7003, 7004, 7005),
        subnet="127.77.9",
    ).resolved()
    node = next(n for n in spec.nodes(options) if n.name == "redis-5")
    text = spec.render(options, node)
    assert "bind 127.77.9.15\nbind-source-addr 127.77.9.15\n" in text
    assert [h.host for h in spec.settings_for(options).cluster_nodes][-1] == "127.77.9.15"
