"""The kubelet's pod status patch is a two-way strategic merge patch from the status it last
sent: a condition that turns True loses its reason and message on the server too (the
apiserver merges ``conditions`` by ``type``, so fields left out of an element would stay)."""

from __future__ import annotations

from actors import ClusterSpec, NodeSpec, simulate
from actors.kubelet._shell_status import status_patch

NOT_READY = {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "message": "containers with unready status: [main]"}


def test_fields_dropped_from_a_keyed_element_are_nulled():
    old = {"phase": "Pending", "conditions": [NOT_READY, {"type": "PodScheduled", "status": "True"}],
           "podIPs": [{"ip": "10.244.0.2"}], "message": "gone later"}
    new = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
           "podIPs": [{"ip": "10.244.0.2"}]}
    assert status_patch(old, new) == {
        "message": None, "phase": "Running",
        "conditions": [{"reason": None, "message": None, "type": "Ready", "status": "True"}],
        "podIPs": [{"ip": "10.244.0.2"}]}


def test_a_first_write_is_the_status_itself():
    new = {"phase": "Pending", "conditions": [NOT_READY]}
    assert status_patch({}, new) == new


def test_a_running_pod_reads_ready_without_the_not_ready_reason():
    spec = ClusterSpec(nodes=[NodeSpec("n1")], addons=())
    with simulate(spec, seed=3) as c:
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                  "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}})
        c.advance(30)
        conds = {x["type"]: x for x in c.get("pods", "web", namespace="default")["status"]["conditions"]}
    for t in ("Ready", "ContainersReady"):
        assert conds[t]["status"] == "True", conds
        assert "reason" not in conds[t] and "message" not in conds[t], conds[t]
