"""Disruption controller logic: expected/desired/current counts per Kubernetes' rules, the
DisruptionAllowed condition, disruptedPods expiry, fail-safe, stale DisruptionTarget
conditions, and the property that spending the allowed disruptions never leaves fewer healthy
pods than desired."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.api import ApiError
from actors.apiserver._eviction import check_and_decrement
from actors.controllers import (
    DELETION_TIMEOUT,
    Update,
    expected_pod_count,
    reconcile_disruption_budget,
    reconcile_stale_pod_disruption,
)
from actors.controllers._plan import format_time

NOW = 1_700_000_000.0
T = format_time(NOW)


def pdb(name: str = "web", generation: int = 1, status: dict | None = None, **spec: Any) -> dict:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default", "uid": "pdb-uid",
                         "generation": generation, "resourceVersion": "7"},
            "spec": spec,
            "status": status if status is not None else {"disruptionsAllowed": 0, "currentHealthy": 0,
                                                         "desiredHealthy": 0, "expectedPods": 0}}


def owner(kind: str, name: str, uid: str, api_version: str = "apps/v1") -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True}


def pod(name: str, *, ready: bool = True, deleting: bool = False, ref: dict | None = None,
        labels: dict | None = None, namespace: str = "default") -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"u-{name}",
                            "labels": {"app": "web"} if labels is None else labels}
    if ref is not None:
        meta["ownerReferences"] = [ref]
    if deleting:
        meta["deletionTimestamp"] = T
    return {"metadata": meta, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def workload(kind: str, name: str, uid: str, replicas: int, ref: dict | None = None) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid}
    if ref is not None:
        meta["ownerReferences"] = [ref]
    return {"kind": kind, "metadata": meta, "spec": {"replicas": replicas}}


def lookup_of(*objs: dict):
    table = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}
    return lambda kind, ns, name: table.get((kind, ns, name))


NOBODY = lookup_of()


def written_status(plan) -> dict:
    (u,) = plan.of_type(Update)
    assert u.subresource == "status" and u.ref.kind == "PodDisruptionBudget"
    return u.body["status"]


def events(plan) -> list[tuple[str, str, str]]:
    return [(e.type, e.reason, e.message) for e in plan.events]


# -- counts -----------------------------------------------------------------------------------


def test_integer_min_available_needs_no_owners():
    pods = [pod("a"), pod("b"), pod("c")]
    plan = reconcile_disruption_budget(pdb(minAvailable=2), pods, lookup=NOBODY, now=NOW)
    assert written_status(plan) == {
        "observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2,
        "expectedPods": 3,
        "conditions": [{"type": "DisruptionAllowed", "status": "True", "observedGeneration": 1,
                        "lastTransitionTime": T, "reason": "SufficientPods", "message": ""}]}
    assert plan.events == () and plan.requeue_after is None


def test_unready_and_deleting_pods_are_not_healthy_but_are_expected():
    pods = [pod("a"), pod("b", ready=False), pod("c", deleting=True)]
    status = written_status(reconcile_disruption_budget(pdb(minAvailable=1), pods, lookup=NOBODY, now=NOW))
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (3, 1, 1)
    assert status["disruptionsAllowed"] == 0
    assert status["conditions"][0]["status"] == "False"
    assert status["conditions"][0]["reason"] == "InsufficientPods"


def test_percentage_resolves_against_the_deployment_scale_counted_once():
    d = workload("Deployment", "web", "d-uid", 4)
    rs1 = workload("ReplicaSet", "web-1", "rs1", 1, owner("Deployment", "web", "d-uid"))
    rs2 = workload("ReplicaSet", "web-2", "rs2", 3, owner("Deployment", "web", "d-uid"))
    pods = [pod("a", ref=owner("ReplicaSet", "web-1", "rs1")),
            pod("b", ref=owner("ReplicaSet", "web-2", "rs2")),
            pod("c", ref=owner("ReplicaSet", "web-2", "rs2"), ready=False)]
    status = written_status(reconcile_disruption_budget(
        pdb(minAvailable="50%"), pods, lookup=lookup_of(d, rs1, rs2), now=NOW))
    # expected = the Deployment's 4 (not 1 + 3 + 4); desired = ceil(50% of 4).
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
            status["disruptionsAllowed"]) == (4, 2, 2, 0)


def test_max_unavailable_rounds_up_and_uses_each_controller_kind():
    rc = workload("ReplicationController", "rc", "rc-uid", 10)
    pods = [pod(f"p{i}", ref=owner("ReplicationController", "rc", "rc-uid", "v1")) for i in range(10)]
    status = written_status(reconcile_disruption_budget(
        pdb(maxUnavailable="25%"), pods, lookup=lookup_of(rc), now=NOW))
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (10, 7, 3)
    ss = workload("StatefulSet", "db", "ss-uid", 3)
    rs = workload("ReplicaSet", "solo", "rs-uid", 2)
    pods = [pod("db-0", ref=owner("StatefulSet", "db", "ss-uid")),
            pod("solo-a", ref=owner("ReplicaSet", "solo", "rs-uid"))]
    assert expected_pod_count(pdb(maxUnavailable=1), pods, lookup_of(ss, rs)) == (5, 4, [])


def test_a_replica_set_whose_deployment_is_gone_counts_through_its_scale():
    rs = workload("ReplicaSet", "web-1", "rs1", 5, owner("Deployment", "web", "gone"))
    pods = [pod("a", ref=owner("ReplicaSet", "web-1", "rs1"))]
    assert expected_pod_count(pdb(maxUnavailable=0), pods, lookup_of(rs)) == (5, 5, [])


def test_unmanaged_pods_are_reported_and_left_out_of_the_scale():
    d = workload("Deployment", "web", "d-uid", 2)
    rs = workload("ReplicaSet", "web-1", "rs1", 2, owner("Deployment", "web", "d-uid"))
    pods = [pod("a", ref=owner("ReplicaSet", "web-1", "rs1")), pod("stray")]
    spec_sel = {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a", "b"]}]}
    pods = [{**p, "metadata": {**p["metadata"], "labels": {"app": "web"}}} for p in pods]
    plan = reconcile_disruption_budget(pdb(maxUnavailable=1, selector=spec_sel), pods,
                                       lookup=lookup_of(d, rs), now=NOW)
    assert written_status(plan)["expectedPods"] == 2
    assert events(plan) == [("Warning", "UnmanagedPods",
                             "Pods selected by this PodDisruptionBudget (selector: &LabelSelector{"
                             "MatchLabels:map[string]string{app: web,},MatchExpressions:"
                             "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,"
                             "Operator:NotIn,Values:[a b],},},}) were found to be unmanaged. As a "
                             "result, the status of the PDB cannot be calculated correctly, which "
                             "may result in undefined behavior. To account for these pods please "
                             "set \".spec.minAvailable\" field of the PDB to an integer value.")]


def _fail_safe(plan) -> tuple[str, dict]:
    status = written_status(plan)
    assert status["disruptionsAllowed"] == 0
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "False", "SyncFailed")
    return cond["message"], events(plan)[0]


def test_controllers_that_cannot_be_found_fail_safe():
    ready = {"disruptionsAllowed": 2, "currentHealthy": 3, "desiredHealthy": 1, "expectedPods": 3,
             "observedGeneration": 1}
    cases = [
        (owner("ReplicaSet", "web-1", "rs1"), 'found no controllers for pod "a"'),
        (owner("Job", "j", "j-uid", "batch/v1"), "jobs.batch does not implement the scale subresource"),
        (owner("DaemonSet", "ds", "ds-uid"), "daemonsets.apps does not implement the scale subresource"),
        (owner("Widget", "w", "w-uid", "example.com/v1"),
         'no matches for kind "Widget" in version "example.com/v1"'),
    ]
    for ref, message in cases:
        plan = reconcile_disruption_budget(pdb(minAvailable="10%", status=dict(ready)),
                                           [pod("a", ref=ref)], lookup=NOBODY, now=NOW)
        got, event = _fail_safe(plan)
        assert got == message
        assert event == ("Warning", "CalculateExpectedPodCountFailed",
                         f"Failed to calculate the number of expected pods: {message}")


def test_a_bad_selector_fails_safe():
    plan = reconcile_disruption_budget(
        pdb(minAvailable=1, selector={"matchExpressions": [{"key": "a", "operator": "Near"}]}),
        [pod("a")], lookup=NOBODY, now=NOW)
    message, event = _fail_safe(plan)
    assert message == '"Near" is not a valid label selector operator'
    assert event == ("Warning", "NoPods", f"Failed to get pods: {message}")


def test_no_pods_allows_nothing_and_says_so():
    plan = reconcile_disruption_budget(pdb(minAvailable=0), [pod("a", labels={"app": "other"})],
                                       lookup=NOBODY, now=NOW)
    assert events(plan) == [("Normal", "NoPods", "No matching pods found")]
    status = written_status(plan)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (0, 0)


def test_selectors_nil_matches_nothing_empty_matches_the_namespace():
    pods = [pod("a"), pod("b", labels={}), pod("c", namespace="other")]
    nothing = pdb(minAvailable=0)
    nothing["spec"]["selector"] = None
    assert written_status(reconcile_disruption_budget(nothing, pods, lookup=NOBODY, now=NOW))["expectedPods"] == 0
    everything = pdb(minAvailable=0, selector={})
    assert written_status(reconcile_disruption_budget(everything, pods, lookup=NOBODY, now=NOW))["expectedPods"] == 2


def test_a_budget_with_neither_bound_allows_nothing():
    status = written_status(reconcile_disruption_budget(pdb(), [pod("a")], lookup=NOBODY, now=NOW))
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
            status["disruptionsAllowed"]) == (0, 0, 1, 0)


def test_nothing_is_written_when_the_status_is_current():
    plan = reconcile_disruption_budget(pdb(minAvailable=2), [pod("a"), pod("b"), pod("c")],
                                       lookup=NOBODY, now=NOW)
    current = pdb(minAvailable=2, status=written_status(plan))
    again = reconcile_disruption_budget(current, [pod("a"), pod("b"), pod("c")], lookup=NOBODY,
                                        now=NOW + 50)
    assert again.actions == () and again.events == ()
    # a new generation is observed even when the numbers stay
    bumped = {**current, "metadata": {**current["metadata"], "generation": 2}}
    status = written_status(reconcile_disruption_budget(bumped, [pod("a"), pod("b"), pod("c")],
                                                        lookup=NOBODY, now=NOW + 60))
    assert status["observedGeneration"] == 2
    assert status["conditions"][0]["observedGeneration"] == 2
    assert status["conditions"][0]["lastTransitionTime"] == T  # status unchanged: time kept


# -- disruptedPods -----------------------------------------------------------------------------


def test_disrupted_pods_are_not_healthy_until_they_expire():
    admitted = NOW - 30
    status = {"observedGeneration": 1, "disruptedPods": {"a": format_time(admitted),
                                                         "gone": format_time(admitted),
                                                         "c": format_time(admitted)},
              "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 3}
    pods = [pod("a"), pod("b"), pod("c", deleting=True)]
    plan = reconcile_disruption_budget(pdb(minAvailable=1, status=status), pods, lookup=NOBODY, now=NOW)
    got = written_status(plan)
    # "gone" (no such pod) and "c" (being deleted) are dropped; "a" stays and is not healthy.
    assert got["disruptedPods"] == {"a": format_time(admitted)}
    assert (got["currentHealthy"], got["disruptionsAllowed"]) == (1, 0)
    assert plan.requeue_after == DELETION_TIMEOUT - 30
    later = reconcile_disruption_budget(pdb(minAvailable=1, status=got), pods, lookup=NOBODY,
                                        now=admitted + DELETION_TIMEOUT + 1)
    expired = written_status(later)
    assert "disruptedPods" not in expired
    assert (expired["currentHealthy"], expired["disruptionsAllowed"]) == (2, 1)
    assert events(later) == [("Warning", "NotDeleted",
                              "Pod was expected by PDB default/default to be deleted but it wasn't")]
    assert later.events[0].involved.kind == "Pod" and later.events[0].involved.name == "a"


# -- stale DisruptionTarget conditions ------------------------------------------------------


def _targeted(since: float, **status: Any) -> dict:
    p = pod("a")
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True",
                                      "reason": "EvictionByEvictionAPI",
                                      "message": "Eviction API: evicting",
                                      "lastTransitionTime": format_time(since)})
    p["status"].update(status)
    return p


def test_a_stale_disruption_target_is_reset_after_two_minutes():
    assert reconcile_stale_pod_disruption(_targeted(NOW - 20), now=NOW).requeue_after == 100
    plan = reconcile_stale_pod_disruption(_targeted(NOW - 120), now=NOW)
    (u,) = plan.of_type(Update)
    assert u.subresource == "status" and u.ref.kind == "Pod"
    assert u.body["status"]["conditions"][1] == {"type": "DisruptionTarget", "status": "False",
                                                 "lastProbeTime": None, "lastTransitionTime": T}
    assert reconcile_stale_pod_disruption(_targeted(NOW - 500, phase="Failed"), now=NOW).actions == ()
    deleting = _targeted(NOW - 500)
    deleting["metadata"]["deletionTimestamp"] = T
    assert reconcile_stale_pod_disruption(deleting, now=NOW).actions == ()


# -- the property ------------------------------------------------------------------------------

_SPECS = st.one_of(
    st.builds(lambda n: {"minAvailable": n}, st.integers(0, 14)),
    st.builds(lambda p: {"minAvailable": f"{p}%"}, st.integers(0, 100)),
    st.builds(lambda n: {"maxUnavailable": n}, st.integers(0, 14)),
    st.builds(lambda p: {"maxUnavailable": f"{p}%"}, st.integers(0, 100)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_SPECS, replicas=st.integers(0, 12),
       pods=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=12),
       steps=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=14, max_size=14))
def test_spending_allowed_disruptions_never_leaves_fewer_healthy_than_desired(spec, replicas, pods, steps):
    """Evict healthy pods for as long as the budget admits them — the controller resyncing in
    between or not, the admitted pod's delete seen or not yet: every admitted eviction leaves at
    least desiredHealthy healthy pods, and the budget stops admitting before that would break."""
    d = workload("Deployment", "web", "d-uid", replicas)
    rs = workload("ReplicaSet", "web-1", "rs1", replicas, owner("Deployment", "web", "d-uid"))
    ref = owner("ReplicaSet", "web-1", "rs1")
    objs = {f"p{i}": pod(f"p{i}", ready=ready, deleting=deleting, ref=ref)
            for i, (ready, deleting) in enumerate(pods)}
    evicted: set[str] = set()
    lookup = lookup_of(d, rs)

    def sync(budget: dict, now: float) -> dict:
        plan = reconcile_disruption_budget(budget, list(objs.values()), lookup=lookup, now=now)
        ups = plan.of_type(Update)
        return ups[0].body if ups else budget

    def healthy() -> list[str]:
        return sorted(n for n, p in objs.items() if n not in evicted
                      and not p["metadata"].get("deletionTimestamp")
                      and p["status"]["conditions"][0]["status"] == "True")

    budget = sync(pdb(**spec), NOW)
    status = budget["status"]
    desired = status["desiredHealthy"]
    assert status["disruptionsAllowed"] >= 0
    if status["disruptionsAllowed"] > 0:
        assert status["currentHealthy"] - status["disruptionsAllowed"] >= desired
    admitted = 0
    for step, (deleted, resync) in enumerate(steps):
        victims = healthy()
        if not victims:
            break
        try:
            budget = check_and_decrement(budget, victims[0], now=format_time(NOW + step), dry_run=False)
        except ApiError as e:
            assert e.code == 429  # refused: nothing was spent
            break
        admitted += 1
        evicted.add(victims[0])
        if deleted:
            objs[victims[0]]["metadata"]["deletionTimestamp"] = T
        assert len(healthy()) >= desired
        if resync:
            budget = sync(budget, NOW + step + 1)
            assert budget["status"]["desiredHealthy"] == desired
            assert budget["status"]["currentHealthy"] == len(healthy())
    assert admitted <= status["disruptionsAllowed"]
