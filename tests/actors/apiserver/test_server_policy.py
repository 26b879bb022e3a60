"""LimitRange, ResourceQuota and PriorityClass objects drive their admission plugins."""

import pytest

from actors import ApiError, ClusterSpec, simulate

SPEC = ClusterSpec(etcd_members=1, apiservers=1, schedulers=0, controller_managers=0, nodes=[])


def _pod(name, ns="default", **container):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "a", "image": "nginx", **container}]}}


def test_limit_range_defaults_and_maximum():
    with simulate(SPEC, seed=1) as c:
        c.create({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                  "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "250m"},
                                       "default": {"cpu": "500m"}, "max": {"cpu": "1"}}]}})
        c.advance(1)
        p = c.create(_pod("p"))
        assert p["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}
        assert "LimitRanger plugin set" in p["metadata"]["annotations"]["kubernetes.io/limit-ranger"]
        with pytest.raises(ApiError) as e:
            c.create(_pod("big", resources={"limits": {"cpu": "2"}}))
        assert e.value.code == 403
        assert e.value.message == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
        with pytest.raises(ApiError) as e:
            c.create({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bad"},
                      "spec": {"limits": [{"type": "Node"}]}})
        assert e.value.code == 422


def test_resource_quota_counts_existing_and_refuses_past_hard():
    with simulate(SPEC, seed=1) as c:
        c.create(_pod("first", resources={"requests": {"cpu": "100m"}}))
        q = c.create({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                      "spec": {"hard": {"pods": "2", "requests.cpu": "1"}}})
        assert q["status"] == {"hard": {"pods": "2", "requests.cpu": "1"},
                               "used": {"pods": "1", "requests.cpu": "100m"}}
        c.advance(1)
        c.create(_pod("second", resources={"requests": {"cpu": "200m"}}))
        with pytest.raises(ApiError) as e:
            c.create(_pod("third", resources={"requests": {"cpu": "100m"}}))
        assert e.value.code == 403
        assert "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2" in e.value.message
        assert c.get("resourcequotas", "q")["status"]["used"] == {"pods": "2", "requests.cpu": "300m"}


def test_priority_class_resolves_and_system_names_are_reserved():
    with simulate(SPEC, seed=1) as c:
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "high"}, "value": 1000})
        c.advance(1)
        p = c.create({**_pod("p"), "spec": {"priorityClassName": "high",
                                             "containers": [{"name": "a", "image": "nginx"}]}})
        assert p["spec"]["priority"] == 1000
        with pytest.raises(ApiError) as e:
            c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                      "metadata": {"name": "system-mine"}, "value": 5})
        assert e.value.code == 422
        # value is int32 json:"value" (no omitempty): a class of value 0 shows it.
        zero = c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                         "metadata": {"name": "zero"}})
        assert zero["value"] == 0 and c.get("priorityclasses", "zero")["value"] == 0
