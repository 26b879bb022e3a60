"""``kubetwin demo``'s control-plane sections: what the seed's notes show of the control plane.

- ``componentstatus``: ``kubectl get componentstatus`` once the scheduler and the controller
  manager hold their leases (the apiserver reports them Healthy from those).
- ``kube_system``: every component runs as a pod — the seed's custom-columns listing, then
  how each pod got there (the mirror annotation and owner of each, read from the objects).
- ``run_nginx`` and ``run_ningx``: the request chain seen through the event stream
  (Deployment → ReplicaSet → pod → scheduler → kubelet), then the seed's typo and what a
  faithful cluster does with an image that does not exist.
- ``etcd``: the registry keys and one stored pod, read from the etcd leader as ``etcdctl``.
- ``leader``: the scheduler's leader-election record.

Concurrency model: synchronous driver code (``Session``).

Invariants: each section prints only what it read from the cluster; a wait that times out
prints a note saying so and the section goes on with what is there.
"""

from __future__ import annotations

from typing import Any

from actors.api import ApiError
from actors.client import parse_time

from ._demo_print import custom_columns, table_lines, to_yaml
from ._demo_session import Session, kubectl_deployment

__all__ = ["componentstatus", "etcd", "kube_system", "leader", "run_nginx", "run_ningx"]

Obj = dict[str, Any]
KUBE_SYSTEM_COLUMNS = "POD:metadata.name,NODE:spec.nodeName"
OWNER_COLUMNS = ("POD:metadata.name,OWNER:metadata.ownerReferences[0].kind,"
                 "MIRROR:metadata.annotations.kubernetes\\.io/config\\.mirror")


def _healthy(cluster: Any) -> bool:
    items = cluster.list("componentstatuses")["items"]
    return bool(items) and all(c["conditions"][0]["status"] == "True" for c in items)


def componentstatus(s: Session) -> None:
    s.out.title("Control-plane components (etcd — apiserver — [scheduler, controller-manager])")
    if not s.wait(_healthy, 60):
        s.gone("every component Healthy", 60)
    s.out.prompt("kubectl get componentstatus")
    items = s.cluster.list("componentstatuses")["items"]
    for w in s.cluster.warnings:
        s.out.line(f"Warning: {w}")
    s.out.lines_of(table_lines("componentstatuses", items, s.wall()))


def _settled(cluster: Any) -> bool:
    """Every kube-system workload has its pods and every pod runs."""
    pods = cluster.list("pods", "kube-system")["items"]
    deployments = cluster.list("deployments", "kube-system")["items"]
    daemonsets = cluster.list("daemonsets", "kube-system")["items"]
    return (bool(pods) and all(p["status"].get("phase") == "Running" for p in pods)
            and all((d.get("status") or {}).get("availableReplicas") == d["spec"]["replicas"]
                    for d in deployments)
            and all(0 < (d.get("status") or {}).get("desiredNumberScheduled", 0)
                    == (d.get("status") or {}).get("numberReady") for d in daemonsets))


def _sorted_by(objs: list[Obj], path: tuple[str, ...]) -> list[Obj]:
    def key(o: Obj) -> str:
        for p in path:
            o = o.get(p) or {}
        return o if isinstance(o, str) else ""
    return sorted(objs, key=key)  # stable, as kubectl's --sort-by


def kube_system(s: Session) -> None:
    s.out.title("Worker components (apiserver — [kube-proxy, kubelet] — container runtime)")
    if not s.wait(_settled, 120, poll=1.0):
        s.gone("every kube-system pod Running", 120)
    s.out.note("every component runs as a pod:")
    s.out.prompt(f"kubectl get pod -o custom-columns={KUBE_SYSTEM_COLUMNS} "
                 "--sort-by spec.nodeName -n kube-system")
    pods = _sorted_by(s.pods("kube-system"), ("spec", "nodeName"))
    s.out.lines_of(custom_columns(KUBE_SYSTEM_COLUMNS, pods))
    s.out.note("what put each one there: the kubelet's static pods (mirror pods owned by the "
               "Node), a DaemonSet, Deployments (via ReplicaSets), a bare pod:")
    s.out.prompt(f"kubectl get pod -n kube-system -o custom-columns='{OWNER_COLUMNS}'")
    s.out.lines_of(custom_columns(OWNER_COLUMNS, pods))


def _is(reason: str, prefix: str, text: str = "") -> Any:
    def check(ev: Obj) -> bool:
        return (ev.get("reason") == reason and
                str((ev.get("involvedObject") or {}).get("name", "")).startswith(prefix) and
                text in (ev.get("message") or ""))
    return check


def _create_deployment(s: Session, name: str, image: str, replicas: int = 1) -> bool:
    args = f" --replicas={replicas}" if replicas != 1 else ""
    s.out.prompt(f"kubectl create deployment {name} --image={image}{args}")
    try:
        s.cluster.create(kubectl_deployment(name, image, replicas))
    except ApiError as e:
        s.out.line(f"error: failed to create deployment: {e.message}")
        return False
    s.out.line(f"deployment.apps/{name} created")
    return True


def run_nginx(s: Session) -> None:
    s.out.title("The chain of a request: kubectl → apiserver → controller manager → "
                "scheduler → kubelet")
    s.out.note("the seed's `kubectl run` (kubectl ≤ 1.17) made a Deployment; today that is "
               "`kubectl create deployment` (`kubectl run` makes a bare pod)")
    if not _create_deployment(s, "nginx", "nginx"):
        return
    s.out.prompt("kubectl get events --watch")
    s.watch_events("default", until=_is("Started", "nginx-"), timeout=120)


def run_ningx(s: Session) -> None:
    s.out.title("The seed's typo: an image that does not exist")
    if not _create_deployment(s, "ningx", "ningx"):
        return
    s.out.prompt("kubectl get events --watch-only")
    s.watch_events("default", until=_is("Failed", "ningx-", "ImagePullBackOff"), timeout=120,
                   list_first=False)
    s.out.prompt("kubectl get pods")
    s.out.lines_of(table_lines("pods", s.pods("default"), s.wall()))


def _uniq_c(keys: list[str]) -> list[str]:
    """``cut -d/ -f3 | uniq -c`` of the keys (GNU uniq: the count right-aligned in 7)."""
    out: list[str] = []
    last, n = None, 0
    for k in keys:
        d = k.split("/")[2] if k.count("/") >= 2 else ""
        if d != last and last is not None:
            out.append(f"{n:7d} {last}")
            n = 0
        last, n = d, n + 1
    if last is not None:
        out.append(f"{n:7d} {last}")
    return out


def etcd(s: Session) -> None:
    s.out.title("How resource metadata is stored in etcd")
    c = s.cluster
    keys = [str(k) for k in c.etcd_get("/registry", prefix=True, keys_only=True)]
    s.out.note(f"`etcdctl ls /registry` in the seed (etcd v2); with etcd v3, {len(keys)} keys "
               "counted per directory:")
    s.out.prompt("etcdctl get /registry --prefix --keys-only | grep -v '^$' | cut -d/ -f3 "
                 "| uniq -c")
    s.out.lines_of(_uniq_c(keys))
    s.out.prompt("etcdctl get /registry/pods/default --prefix --keys-only | grep -v '^$'")
    pod_keys = [str(k) for k in c.etcd_get("/registry/pods/default/", prefix=True,
                                           keys_only=True)]
    s.out.lines_of(pod_keys)
    kubia = [k for k in pod_keys if k.startswith("/registry/pods/default/kubia-")]
    if not kubia and not pod_keys:
        s.out.note("no pod in the default namespace to read")
        return
    key = (kubia or pod_keys)[0]
    s.out.note("one key-value entry per pod: the object as the apiserver stored it "
               "(abridged)")
    s.out.prompt(f"etcdctl get {key} | fold -w 100 | head -4")
    for k, v in c.etcd_get(key):
        s.out.lines_of(_fold(f"{k}\n{v}", 100)[:4])
        s.out.note(f"{len(str(v).encode())} bytes of JSON"
                   + ("" if '"resourceVersion"' in str(v) else
                      ", without metadata.resourceVersion: the apiserver reports the key's "
                      "etcd revision as the object's resourceVersion"))


def _fold(text: str, width: int) -> list[str]:
    """``fold -w WIDTH``: every line cut into pieces of at most ``width`` characters."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(line[i:i + width] for i in range(0, max(len(line), 1), width))
    return out


def leader(s: Session) -> None:
    s.out.title("High availability: the scheduler's leader record")
    s.out.prompt("kubectl get endpoints kube-scheduler -n kube-system -o yaml")
    ep = s.get_or_none("endpoints", "kube-scheduler", "kube-system")
    if ep is not None:
        s.out.lines_of(to_yaml(ep))
        return
    s.out.line('Error from server (NotFound): endpoints "kube-scheduler" not found')
    s.out.note("since Kubernetes 1.24 the record lives in a Lease (the seed's 1.17 kept it in "
               "this Endpoints' control-plane.alpha.kubernetes.io/leader annotation):")
    s.out.prompt("kubectl get lease kube-scheduler -n kube-system -o yaml")
    lease = s.get_or_none("leases", "kube-scheduler", "kube-system")
    if lease is None:
        s.out.line('Error from server (NotFound): leases.coordination.k8s.io "kube-scheduler" '
                   "not found")
        return
    s.out.lines_of(to_yaml(lease))
    _failover(s, lease)


LEASE_COLUMNS = ("HOLDER:spec.holderIdentity,TRANSITIONS:spec.leaseTransitions,"
                 "ACQUIRED:spec.acquireTime")


def _failover(s: Session, lease: Obj) -> None:
    """Crash the holder and show the record change hands (leaseTransitions + 1)."""
    holder = lease["spec"].get("holderIdentity") or ""
    process = holder.split("_", 1)[0]
    if process not in s.cluster.actors:
        return
    crashed_at = s.wall()
    s.cluster.crash(process)
    s.cluster.advance(1.0)
    s.cluster.restart(process)
    s.out.note(f"an injected crash of {process}, the holder, restarted 1 s later (as the "
               "kubelet restarts a static pod) with a new identity, which may write its name "
               "only once the old record has expired:")

    def moved(cl: Any) -> bool:
        spec = cl.get("leases", "kube-scheduler", "kube-system")["spec"]
        return bool(spec.get("holderIdentity")) and spec["holderIdentity"] != holder

    if not s.wait(moved, 120, poll=0.5):
        s.gone("a new holder", 120)
    s.out.prompt(f"kubectl get lease kube-scheduler -n kube-system -o custom-columns="
                 f"{LEASE_COLUMNS}")
    after = s.cluster.get("leases", "kube-scheduler", "kube-system")
    s.out.lines_of(custom_columns(LEASE_COLUMNS, [after]))
    acquired = parse_time(after["spec"].get("acquireTime"))
    if after["spec"].get("holderIdentity") != holder and acquired:
        s.out.note(f"the lease changed hands {acquired - crashed_at:.1f} s after the crash: "
                   "a candidate waits leaseDurationSeconds "
                   f"({after['spec'].get('leaseDurationSeconds')} s) from the moment it last "
                   "saw the record change, then tries again every retry period")
