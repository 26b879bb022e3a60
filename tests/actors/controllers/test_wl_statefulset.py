"""The StatefulSet controller through ``simulate()``: OrderedReady scale-up (web-0 Ready before
web-1 exists) and scale-down from the highest ordinal, Parallel, claims
``<claim>-<set>-<ordinal>`` that outlive their pods (provisioned by minikube's
storage-provisioner for the default class), the stable DNS name through the headless
Service, and a RollingUpdate in reverse ordinal order held at a partition."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.client import parse_time
from actors.cluster import Cluster

TWO = ClusterSpec(nodes=[NodeSpec("node-1"), NodeSpec("node-2")])
WEB0 = "web-0.nginx.default.svc.cluster.local"


def headless(name: str = "nginx", app: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"clusterIP": "None", "selector": {"app": app}, "ports": [{"port": 80, "name": "web"}]}}


def statefulset(name: str = "web", *, replicas: int = 3, image: str = "nginx", claims: bool = True,
                **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "serviceName": "nginx", "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "nginx", "image": image}]}}, **spec}
    if claims:
        body["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": body}


def is_ready(pod: dict[str, Any]) -> bool:
    return any(x["type"] == "Ready" and x["status"] == "True" for x in pod["status"].get("conditions") or ())


def ready_at(pod: dict[str, Any]) -> float:
    (cond,) = [x for x in pod["status"]["conditions"] if x["type"] == "Ready"]
    return parse_time(cond["lastTransitionTime"]) or 0.0


def pods(c: Cluster, app: str = "web") -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in c.list("pods", "default", label_selector=f"app={app}")["items"]}


def status(c: Cluster, name: str = "web") -> dict[str, Any]:
    return c.get("statefulsets", name).get("status") or {}


def claims(c: Cluster) -> dict[str, dict[str, Any]]:
    return {x["metadata"]["name"]: x for x in c.list("persistentvolumeclaims", "default")["items"]}


def test_ordered_scale_up_with_claims_and_stable_identity() -> None:
    with simulate(TWO, seed=1) as c:
        watch = c.watch("pods", "default")
        c.create(headless())
        c.create(statefulset())
        c.run_until(lambda c: status(c).get("readyReplicas") == 3, timeout=90)
        # OrderedReady: a pod is created only once every lower ordinal is Running and Ready.
        first_seen: dict[str, int] = {}
        ready_seen: dict[str, int] = {}
        for i, ev in enumerate(watch.drain()):
            name = ev["object"]["metadata"]["name"]
            first_seen.setdefault(name, i)
            if is_ready(ev["object"]):
                ready_seen.setdefault(name, i)
        assert ready_seen["web-0"] < first_seen["web-1"] and ready_seen["web-1"] < first_seen["web-2"]
        have = pods(c)
        assert sorted(have) == ["web-0", "web-1", "web-2"]
        for name, p in have.items():
            assert (p["spec"]["hostname"], p["spec"]["subdomain"]) == (name, "nginx")
            assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
            (vol,) = [v for v in p["spec"]["volumes"] if v["name"] == "www"]
            assert vol["persistentVolumeClaim"]["claimName"] == f"www-{name}"
        assert parse_time(have["web-1"]["metadata"]["creationTimestamp"]) >= ready_at(have["web-0"])
        # The claims get the default class and a volume from the storage-provisioner.
        c.run_until(lambda c: all(x["status"].get("phase") == "Bound" for x in claims(c).values()), timeout=60)
        assert sorted(claims(c)) == ["www-web-0", "www-web-1", "www-web-2"]
        assert {x["spec"]["storageClassName"] for x in claims(c).values()} == {"standard"}
        msgs = [e["message"] for e in c.list("events", "default")["items"]
                if e["involvedObject"]["kind"] == "StatefulSet"]
        assert "create Claim www-web-0 Pod web-0 in StatefulSet web success" in msgs
        assert "create Pod web-2 in StatefulSet web successful" in msgs
        assert not [e for e in c.list("events", "default")["items"]
                    if e["type"] == "Warning" and e["source"]["component"] == "statefulset-controller"]
        # Stable network identity: web-0.nginx resolves to web-0, before and after it is replaced,
        # and it keeps its claim.
        reply = c.request(from_pod=("default", "web-1"), to=f"{WEB0}:80")
        assert reply.dns[0].addresses == (have["web-0"]["status"]["podIP"],)
        assert reply.path_str.endswith("pod web-0 eth0") and reply.reply.startswith(b"HTTP/1.1 200 OK")
        uid, claim_uid = have["web-0"]["metadata"]["uid"], claims(c)["www-web-0"]["metadata"]["uid"]
        c.delete("pods", "web-0")
        c.run_until(lambda c: "web-0" in pods(c) and pods(c)["web-0"]["metadata"]["uid"] != uid
                    and is_ready(pods(c)["web-0"]), timeout=60)
        new_ip = pods(c)["web-0"]["status"]["podIP"]
        c.run_until(lambda c: c.request(from_pod=("default", "web-1"), to=f"{WEB0}:80").dns[0].addresses
                    == (new_ip,), timeout=30)
        assert claims(c)["www-web-0"]["metadata"]["uid"] == claim_uid


def test_scale_down_from_the_highest_ordinal_keeps_the_claims() -> None:
    with simulate(TWO, seed=2) as c:
        c.create(headless())
        c.create(statefulset())
        c.run_until(lambda c: status(c).get("readyReplicas") == 3, timeout=90)
        claim_uids = {n: x["metadata"]["uid"] for n, x in claims(c).items()}
        watch = c.watch("pods", "default")
        c.patch("statefulsets", "web", {"spec": {"replicas": 1}})
        c.run_until(lambda c: sorted(pods(c)) == ["web-0"], timeout=90)
        deleted = [e["object"]["metadata"]["name"] for e in watch.drain() if e["type"] == "DELETED"]
        assert deleted == ["web-2", "web-1"]
        assert {n: x["metadata"]["uid"] for n, x in claims(c).items()} == claim_uids  # they outlive the pods
        c.patch("statefulsets", "web", {"spec": {"replicas": 2}})
        c.run_until(lambda c: status(c).get("readyReplicas") == 2, timeout=60)
        assert {n: x["metadata"]["uid"] for n, x in claims(c).items()} == claim_uids  # web-1 gets its claim back
        msgs = [e["message"] for e in c.list("events", "default")["items"]
                if e["involvedObject"]["kind"] == "StatefulSet"]
        assert "delete Pod web-2 in StatefulSet web successful" in msgs


def test_parallel_creates_every_pod_at_once() -> None:
    with simulate(TWO, seed=3) as c:
        c.create(headless())
        c.create(statefulset(claims=False, podManagementPolicy="Parallel"))
        c.run_until(lambda c: len(pods(c)) == 3, timeout=10)
        assert not any(is_ready(p) for p in pods(c).values())  # nobody waited for web-0
        c.run_until(lambda c: status(c).get("readyReplicas") == 3, timeout=60)


def test_rolling_update_in_reverse_ordinal_order_held_at_the_partition() -> None:
    with simulate(TWO, seed=4) as c:
        c.create(headless())
        c.create(statefulset(claims=False, updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
        c.run_until(lambda c: status(c).get("readyReplicas") == 3, timeout=90)
        first = status(c)["currentRevision"]
        watch = c.watch("pods", "default")
        c.patch("statefulsets", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "nginx", "image": "httpd"}]}}}})
        c.run_until(lambda c: status(c).get("updatedReplicas") == 2 and status(c).get("readyReplicas") == 3,
                    timeout=90)
        deleted = [e["object"]["metadata"]["name"] for e in watch.drain() if e["type"] == "DELETED"]
        assert deleted == ["web-2", "web-1"]
        images = {n: p["spec"]["containers"][0]["image"] for n, p in pods(c).items()}
        assert images == {"web-0": "nginx", "web-1": "httpd", "web-2": "httpd"}
        st = status(c)
        assert st["currentRevision"] == first and st["updateRevision"] != first
        assert pods(c)["web-0"]["metadata"]["labels"]["controller-revision-hash"] == first
        assert {pods(c)[n]["metadata"]["labels"]["controller-revision-hash"] for n in ("web-1", "web-2")} == {
            st["updateRevision"]}
        c.patch("statefulsets", "web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})
        c.run_until(lambda c: status(c).get("currentRevision") == st["updateRevision"]
                    and status(c).get("readyReplicas") == 3, timeout=90)
        assert pods(c)["web-0"]["spec"]["containers"][0]["image"] == "httpd"
        revs = sorted(r["revision"] for r in c.list("controllerrevisions", "default")["items"]
                      if r["metadata"]["ownerReferences"][0]["name"] == "web")
        assert revs == [1, 2]
