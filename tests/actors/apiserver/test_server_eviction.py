"""pods/eviction (kubectl drain): the pod is deleted with the eviction's deleteOptions, unless a
PodDisruptionBudget refuses; the PodDisruptionBudget kind itself (defaults, generation, status
subresource, validation). No controller manager here: budgets' statuses are written by hand,
as the disruption controller would."""

import pytest

from actors import ApiError, ClusterSpec, simulate

SPEC = ClusterSpec(etcd_members=1, apiservers=1, schedulers=0, controller_managers=0, nodes=[])
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def _node(c):
    c.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})


def _pod(c, name, *, phase="Running", ready=True, labels=None):
    c.create({"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}},
              "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "nginx"}]}})
    pod = c.get("pods", name)
    pod["status"] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    return c.update(pod, subresource="status")


def _pdb(c, name="web", *, status=None, **spec):
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    out = c.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": name}, "spec": spec})
    if status is not None:
        out["status"] = {"observedGeneration": 1, **status}
        out = c.update(out, subresource="status")
    return out


def _evict(c, name, **options):
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": "default"}}
    if options:
        body["deleteOptions"] = options
    return c.request("create", "pods", name=name, namespace="default", subresource="eviction",
                     body=body)


def _deleting(c, name):
    return bool(c.get("pods", name)["metadata"].get("deletionTimestamp"))


def test_eviction_deletes_the_pod_gracefully():
    with simulate(SPEC, seed=2) as c:
        c.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                  "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "nginx"}]}})
        out = c.request("create", "pods", name="p", namespace="default", subresource="eviction",
                        body={"apiVersion": "policy/v1", "kind": "Eviction",
                              "metadata": {"name": "p", "namespace": "default"},
                              "deleteOptions": {"gracePeriodSeconds": 7}})
        assert out["status"] == "Success"
        pod = c.get("pods", "p")
        assert pod["metadata"]["deletionGracePeriodSeconds"] == 7
        assert pod["metadata"].get("deletionTimestamp")


def test_pod_disruption_budget_kind_status_and_generation():
    with simulate(SPEC, seed=2) as c:
        pdb = _pdb(c, minAvailable=2)
        assert pdb["apiVersion"] == "policy/v1" and pdb["metadata"]["generation"] == 1
        assert pdb["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                 "expectedPods": 0}
        pdb["status"] = {"disruptionsAllowed": 5}
        pdb["spec"]["minAvailable"] = 1
        pdb = c.update(pdb)  # the main resource keeps the status, bumps the generation
        assert pdb["metadata"]["generation"] == 2 and pdb["status"]["disruptionsAllowed"] == 0
        assert c.get("pdb", "web")["spec"]["minAvailable"] == 1
        pdb["status"] = {"observedGeneration": 2, "disruptionsAllowed": -1, "currentHealthy": 0,
                         "desiredHealthy": 0, "expectedPods": 0}
        with pytest.raises(ApiError) as e:
            c.update(pdb, subresource="status")
        assert e.value.code == 422
        assert e.value.message == ('PodDisruptionBudget.policy "web" is invalid: status.disruptionsAllowed: '
                                   "Invalid value: -1: must be greater than or equal to 0")


def test_min_available_and_max_unavailable_are_exclusive():
    with simulate(SPEC, seed=2) as c:
        with pytest.raises(ApiError) as e:
            _pdb(c, minAvailable=2, maxUnavailable="120%")
        assert e.value.code == 422
        assert e.value.message == (
            'PodDisruptionBudget.policy "web" is invalid: [spec: Invalid value: '
            "policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000a1e0a0), "
            "Selector:(*v1.LabelSelector)(0xc000a1e0c0), MaxUnavailable:(*intstr.IntOrString)"
            "(0xc000a1e080), UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)"
            "(nil)}: minAvailable and maxUnavailable cannot be both set, spec.maxUnavailable: "
            'Invalid value: "120%": must not be greater than 100%]')
        assert [cause.field for cause in e.value.details.causes] == ["spec", "spec.maxUnavailable"]


def test_a_budget_at_its_limit_refuses_with_429():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "a")
        _pdb(c, minAvailable=1, status={"disruptionsAllowed": 0, "currentHealthy": 1,
                                        "desiredHealthy": 1, "expectedPods": 1})
        with pytest.raises(ApiError) as e:
            _evict(c, "a")
        assert e.value.code == 429 and e.value.reason == "TooManyRequests"
        assert e.value.message == VIOLATION
        (cause,) = e.value.details.causes
        assert (cause.type, cause.message) == (
            "DisruptionBudget", "The disruption budget web needs 1 healthy pods and has 1 currently")
        assert e.value.details.retry_after_seconds is None
        assert not _deleting(c, "a")


def test_an_admitted_eviction_spends_the_budget_then_deletes():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "a")
        _pod(c, "b")
        _pdb(c, minAvailable=1, status={"disruptionsAllowed": 1, "currentHealthy": 2,
                                        "desiredHealthy": 1, "expectedPods": 2})
        assert _evict(c, "a")["status"] == "Success"
        status = c.get("pdb", "web")["status"]
        assert status["disruptionsAllowed"] == 0
        assert list(status["disruptedPods"]) == ["a"]
        (cond,) = status["conditions"]
        assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "False",
                                                                  "InsufficientPods")
        pod = c.get("pods", "a")
        assert pod["metadata"].get("deletionTimestamp")
        target = [x for x in pod["status"]["conditions"] if x["type"] == "DisruptionTarget"]
        assert target == [{"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": target[0]["lastTransitionTime"],
                           "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]
        with pytest.raises(ApiError) as e:  # the last disruption is spent
            _evict(c, "b")
        assert e.value.code == 429


def test_a_status_behind_the_spec_is_still_being_processed():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "a")
        pdb = _pdb(c, minAvailable=0, status={"disruptionsAllowed": 1, "currentHealthy": 1,
                                              "desiredHealthy": 0, "expectedPods": 1})
        pdb["spec"]["minAvailable"] = 1
        c.update(pdb)  # generation 2, observed 1
        with pytest.raises(ApiError) as e:
            _evict(c, "a")
        assert e.value.code == 429 and e.value.details.retry_after_seconds == 10
        assert e.value.details.causes[0].message == ("The disruption budget web is still being "
                                                     "processed by the server.")


def test_more_than_one_budget_is_a_500():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "a")
        _pdb(c, "one", minAvailable=0)
        _pdb(c, "two", maxUnavailable=1, selector={})
        with pytest.raises(ApiError) as e:
            _evict(c, "a")
        assert e.value.code == 500 and e.value.reason == ""
        assert e.value.message == ("This pod has more than one PodDisruptionBudget, which the "
                                   "eviction subresource does not support.")
        assert not _deleting(c, "a")


def test_pods_that_disrupt_nothing_ignore_budgets():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "pending", phase="Pending", ready=False)
        _pod(c, "done", phase="Succeeded", ready=False)
        _pdb(c, minAvailable=5, status={"disruptionsAllowed": 0, "currentHealthy": 0,
                                        "desiredHealthy": 5, "expectedPods": 2})
        _evict(c, "pending")
        _evict(c, "done")
        assert _deleting(c, "pending")
        with pytest.raises(ApiError) as e:  # a terminated pod is removed outright
            c.get("pods", "done")
        assert e.value.code == 404


def test_unhealthy_pods_follow_the_unhealthy_pod_eviction_policy():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "sick", ready=False)
        _pod(c, "other", ready=False, labels={"app": "api"})
        # IfHealthyBudget (the default): the application is healthy enough, so the unready pod
        # goes without spending the budget.
        _pdb(c, minAvailable=1, status={"disruptionsAllowed": 0, "currentHealthy": 1,
                                        "desiredHealthy": 1, "expectedPods": 2})
        _evict(c, "sick")
        assert _deleting(c, "sick")
        assert c.get("pdb", "web")["status"]["disruptionsAllowed"] == 0
        # ...but not when the budget is not met.
        _pdb(c, "api", minAvailable=1, selector={"matchLabels": {"app": "api"}},
             status={"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 1,
                     "expectedPods": 1})
        with pytest.raises(ApiError) as e:
            _evict(c, "other")
        assert e.value.code == 429
        pdb = c.get("pdb", "api")
        pdb["spec"]["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
        pdb = c.update(pdb)
        pdb["status"]["observedGeneration"] = 2
        c.update(pdb, subresource="status")
        _evict(c, "other")
        assert _deleting(c, "other")


def test_dry_run_and_a_mismatched_name_change_nothing():
    with simulate(SPEC, seed=2) as c:
        _node(c)
        _pod(c, "a")
        _pdb(c, minAvailable=0, status={"disruptionsAllowed": 1, "currentHealthy": 1,
                                        "desiredHealthy": 0, "expectedPods": 1})
        assert _evict(c, "a", dryRun=["All"])["status"] == "Success"
        assert not _deleting(c, "a")
        assert c.get("pdb", "web")["status"]["disruptionsAllowed"] == 1
        with pytest.raises(ApiError) as e:
            c.request("create", "pods", name="a", namespace="default", subresource="eviction",
                      body={"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": "b"}})
        assert e.value.code == 400
        assert e.value.message == "name in URL does not match name in Eviction object"
