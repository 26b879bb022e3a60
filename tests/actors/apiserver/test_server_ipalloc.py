"""Service ClusterIP and NodePort allocation through the apiserver (the service registry)."""

import ipaddress

import pytest

from actors import ApiError, ClusterSpec, simulate

SPEC = ClusterSpec(etcd_members=1, apiservers=2, schedulers=0, controller_managers=0, nodes=[])


def _svc(name, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}


def test_cluster_ips_and_node_ports_are_allocated_unique_and_released():
    with simulate(SPEC, seed=5) as c:
        net = ipaddress.ip_network("10.96.0.0/12")
        ips = set()
        for i in range(20):
            s = c.create(_svc(f"s{i}", type="NodePort" if i % 2 else "ClusterIP"))
            ip = s["spec"]["clusterIP"]
            assert ipaddress.ip_address(ip) in net and s["spec"]["clusterIPs"] == [ip]
            if i % 2:
                assert 30000 <= s["spec"]["ports"][0]["nodePort"] <= 32767
            ips.add(ip)
        assert len(ips) == 20 and "10.96.0.1" not in ips
        keys = c.etcd_get("/registry/ipaddresses/", prefix=True, keys_only=True)
        assert len(keys) == 21  # the kubernetes service's 10.96.0.1 too
        c.delete("services", "s0")
        keys_after = c.etcd_get("/registry/ipaddresses/", prefix=True, keys_only=True)
        assert len(keys_after) == 20


def test_requested_ip_taken_is_invalid_and_headless_gets_none():
    with simulate(SPEC, seed=5) as c:
        with pytest.raises(ApiError) as e:
            c.create(_svc("dup", clusterIP="10.96.0.1"))
        assert e.value.code == 422 and e.value.reason == "Invalid"
        assert "provided IP is already allocated" in e.value.message
        with pytest.raises(ApiError) as e:
            c.create(_svc("far", clusterIP="192.168.1.1"))
        assert "is not in the valid range" in e.value.message
        h = c.create(_svc("hl", clusterIP="None"))
        assert h["spec"]["clusterIP"] == "None"
        # a failed create leaves nothing allocated
        with pytest.raises(ApiError):
            c.get("services", "dup")
        assert len(c.etcd_get("/registry/ipaddresses/", prefix=True, keys_only=True)) == 1
