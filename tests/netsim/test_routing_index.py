"""RouteTable's (network, metric) index stays right across add, replace and removals."""

from __future__ import annotations

import pytest

from netsim import Route, RouteExists, RouteTable


def test_the_index_follows_adds_replaces_and_removals() -> None:
    t = RouteTable()
    for i in range(5):
        t.add(Route(f"10.244.{i}.0/24", dev=f"eth{i % 2}", via=f"192.168.49.{2 + i}"))
    with pytest.raises(RouteExists):
        t.add(Route("10.244.3.0/24", dev="eth0"))
    t.add(Route("10.244.3.0/24", dev="eth0", metric=100))  # another metric: another route
    assert t.remove("10.244.1.0/24") == 1
    t.remove_dev("eth1")  # 10.244.3.0/24 metric 0 goes
    t.replace(Route("10.244.4.0/24", dev="eth0", via="192.168.49.99"))
    assert t.lookup("10.244.4.7").via == "192.168.49.99"  # type: ignore[union-attr]
    assert t.lookup("10.244.3.1").metric == 100  # type: ignore[union-attr]
    t.add(Route("10.244.1.0/24", dev="eth0"))  # gone before: may be added again
    with pytest.raises(RouteExists):
        t.add(Route("10.244.0.0/24", dev="eth0", via="192.168.49.2"))
    assert len(t) == 5 and {r.dst for r in t.routes()} == {
        "10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24", "10.244.4.0/24"}


def test_shared_peer_routes_read_as_each_tables_own() -> None:
    from netsim._routing import PeerRoutes

    peers = PeerRoutes()
    tables = {}
    for i in range(4):
        peers.set(f"n{i}", Route(f"10.244.{i}.0/24", dev="eth0", via=f"192.168.49.{2 + i}"))
        tables[i] = RouteTable()
        tables[i].attach_peers(peers, f"n{i}")
    t0 = tables[0]
    # Every other node's podCIDR, never its own.
    assert {r.dst for r in t0.routes()} == {"10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"}
    assert t0.lookup("10.244.0.9") is None and len(t0) == 3
    assert t0.lookup("10.244.2.9").via == "192.168.49.4"  # type: ignore[union-attr]
    with pytest.raises(RouteExists):
        t0.add(Route("10.244.2.0/24", dev="eth0"))
    t0.replace(Route("10.244.2.0/24", dev="eth0", via="192.168.49.99"))  # a local override
    assert t0.lookup("10.244.2.9").via == "192.168.49.99"  # type: ignore[union-attr]
    assert tables[1].lookup("10.244.2.9").via == "192.168.49.4"  # type: ignore[union-attr]
    assert t0.remove("10.244.3.0/24", dev="eth0") == 1  # deleted here only
    assert t0.lookup("10.244.3.1") is None and tables[1].lookup("10.244.3.1") is not None
    t0.add(Route("10.244.0.0/16", dev="eth0", via="192.168.49.1"))  # less specific fallback
    assert t0.lookup("10.244.3.1").via == "192.168.49.1"  # type: ignore[union-attr]
    assert t0.lookup("10.244.1.1").via == "192.168.49.3"  # type: ignore[union-attr]
    peers.discard("n1")  # the node left: its route goes from every table
    assert tables[2].lookup("10.244.1.1") is None
    assert peers.overlapping(Route("10.244.2.128/25", dev="x").network) == "n2"
    assert peers.overlapping(Route("10.244.9.0/24", dev="x").network) is None
