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
