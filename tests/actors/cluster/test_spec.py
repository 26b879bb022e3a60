"""ClusterSpec and NodeSpec: defaults (the seed's minikube) and validation."""

import pytest

from actors import ClusterSpec, NodeSpec


def test_default_is_minikube():
    spec = ClusterSpec()
    assert (spec.etcd_members, spec.apiservers, spec.schedulers, spec.controller_managers) == (
        1, 1, 1, 1)
    assert spec.nodes == [NodeSpec("minikube")]
    n = spec.nodes[0]
    assert (n.cpu, n.memory, n.pods, n.labels, n.taints) == ("4", "8Gi", 110, {}, [])


def test_node_spec_fields():
    n = NodeSpec("gpu-1", cpu="16", memory="64Gi", pods=50, labels={"gpu": "true"},
                 taints=[{"key": "gpu", "effect": "NoSchedule"}])
    assert n.name == "gpu-1" and n.labels == {"gpu": "true"}


def test_specs_do_not_share_mutable_defaults():
    a, b = NodeSpec("a"), NodeSpec("b")
    assert a.labels is not b.labels
    assert ClusterSpec().nodes is not ClusterSpec().nodes


@pytest.mark.parametrize("kwargs,message", [
    ({"etcd_members": 0}, "at least one etcd member"),
    ({"apiservers": 0}, "at least one kube-apiserver"),
    ({"schedulers": -1}, ">= 0"),
    ({"nodes": [NodeSpec("a"), NodeSpec("a")]}, "unique"),
    ({"addons": ("nope",)}, "unknown addon"),
])
def test_invalid_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClusterSpec(**kwargs)


def test_invalid_node():
    with pytest.raises(ValueError):
        NodeSpec("")
    with pytest.raises(ValueError):
        NodeSpec("a", pods=-1)
