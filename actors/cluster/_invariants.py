"""Whole-cluster invariants, observed from outside the API: ``ClusterObserver``.

What it is: the checks the cluster campaign (``_campaign``) runs between simulation steps.
They read state directly — the etcd members' stores and Raft cores, the component actors'
leader electors, the kubelets' container runtimes (sandboxes and their addresses) — never
through an apiserver, so a lagging watch cache or a partition cannot hide a violation.

Safety, at every check:

* Raft (Figure 3 of the Raft paper), through ``actors.etcd.RaftSafety.inspect`` over the live
  members' cores, as the etcd campaign does;
* leader leases: per Lease (scheduler, controller manager) at most one replica whose elector
  says it leads — beyond the overlap client-go's leader election allows without fencing (an
  old leader learns it lost only when its renewal fails: ``lease_duration`` plus slack);
  ``leaseTransitions`` never goes back;
* bindings: a pod's ``spec.nodeName`` never changes once set, no pod has a ready sandbox on
  two nodes, and no ready sandbox runs on a node other than its pod's binding;
* resources: the requests of a node's bound, non-terminal pods fit its allocatable;
* addresses: no pod IP held by two ready sandboxes at once (netsim IPAM);
* watches: the campaign's watch streams carry exactly the etcd history of their prefix
  (``check_watch``), except across an explicit 410 after which they re-list;
* the workload's acknowledged writes (``Acked``) are in the store's history, and at the end
  the last acknowledged spec of every object is what the store holds (``check_acked``).

Liveness after the final heal is ``converged()``: a list of what is not converged yet
(empty when every Deployment/StatefulSet/Job matches its spec, every Service's Endpoints are
its ready pods and every node is Ready). Kinds whose controller is not registered in the
controller manager are skipped, and ``skipped`` says so.

Concurrency model: synchronous; called by the driver between ``advance`` steps, reading
actor instances through ``sim.actor`` (inspection, no messages).

Invariants: a check never raises; each violation is recorded once as a sentence naming the
virtual time (the list is capped).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors.api._quantity import cpu_millis, memory_bytes
from actors.etcd._kv_messages import CompactedError
from actors.etcd._observer import RaftSafety
from runtime import Simulation

from ._spec import ClusterSpec

__all__ = ["Acked", "ClusterObserver", "LEASES"]

_MAX = 100
LEASES = {"kube-scheduler": "kube-scheduler-", "kube-controller-manager": "kube-controller-manager-"}
_DEC = msgspec.json.Decoder()
_TERMINAL = ("Succeeded", "Failed")


@dataclass
class Acked:
    """One acknowledged write of the workload client."""

    key: str  # etcd key
    verb: str  # create | update | delete
    revision: int  # the resourceVersion the apiserver answered
    uid: str
    spec: dict[str, Any] | None  # the fields the client set (checked at the end)


@dataclass
class _Lease:
    since: float | None = None
    transitions: int = -1


@dataclass
class ClusterObserver:
    sim: Simulation
    spec: ClusterSpec
    hosts: dict[str, Any]  # node name -> kubelet host (runtime, netns), from the BuildContext
    lease_bound: float = 22.0  # lease 15 s + renew slack, scaled for clock-rate skew
    violations: list[str] = field(default_factory=list)
    checks: int = 0
    raft: RaftSafety = field(default_factory=RaftSafety)
    skipped: set[str] = field(default_factory=set)
    _bindings: dict[str, str] = field(default_factory=dict)
    _leases: dict[str, _Lease] = field(default_factory=dict)
    _crashes_seen: int = 0

    def violation(self, text: str) -> None:
        text = f"t={self.sim.now:.3f}s {text}"
        if len(self.violations) < _MAX and text not in self.violations:
            self.violations.append(text)

    # ---- reading state directly ---------------------------------------------------------
    def members(self) -> dict[str, Any]:
        out = {}
        for i in range(self.spec.etcd_members):
            m = self.sim.actor(f"etcd-{i}")
            if m is not None and hasattr(m, "sm") and hasattr(m, "node"):
                out[f"etcd-{i}"] = m
        return out

    def store(self) -> Any:
        """The store of the running member furthest ahead (committed state only)."""
        running = self.members()
        if not running:
            return None
        return max(running.values(), key=lambda m: m.sm.revision).sm.store

    def objects(self, prefix: str, store: Any = None) -> list[dict[str, Any]]:
        store = store if store is not None else self.store()
        if store is None:
            return []
        p = prefix.encode()
        return [_DEC.decode(kv.value) for kv in store.live() if kv.key.startswith(p)]

    # ---- safety ---------------------------------------------------------------------------
    def check(self) -> None:
        self.checks += 1
        members = self.members()
        self.raft.inspect({name: m.node for name, m in members.items()})
        self._check_crashes()
        self._check_leaders()
        store = self.store()
        if store is None:
            return
        pods = self.objects("/registry/pods/", store)
        self._check_bindings(pods)
        self._check_resources(pods)
        self._check_sandboxes(pods)
        self._check_lease_objects(store)

    def _check_crashes(self) -> None:
        crashes = self.sim.system.crashes
        for at, name, why in crashes[self._crashes_seen:]:
            if "injected" not in why and "LeaderElectionLost" not in why:
                self.violation(f"{name} crashed at {at:.3f} s: {why}")
        self._crashes_seen = len(crashes)

    def _check_leaders(self) -> None:
        for lease, prefix in LEASES.items():
            n = self.spec.schedulers if lease == "kube-scheduler" else self.spec.controller_managers
            leaders = []
            for i in range(n):
                inst = self.sim.actor(f"{prefix}{i}")
                elector = getattr(inst, "elector", None) if inst is not None else None
                if elector is not None and elector.is_leader():
                    leaders.append(f"{prefix}{i}")
            st = self._leases.setdefault(lease, _Lease())
            if len(leaders) <= 1:
                st.since = None
                continue
            if st.since is None:
                st.since = self.sim.now
            elif self.sim.now - st.since > self.lease_bound:
                self.violation(f"lease {lease}: {leaders} all lead for "
                               f"{self.sim.now - st.since:.1f} s (> {self.lease_bound:g} s)")

    def _check_lease_objects(self, store: Any) -> None:
        for lease in LEASES:
            kv = store.get(f"/registry/leases/kube-system/{lease}".encode())
            if kv is None:
                continue
            t = (_DEC.decode(kv.value).get("spec") or {}).get("leaseTransitions") or 0
            st = self._leases.setdefault(lease, _Lease())
            if t < st.transitions:
                self.violation(f"lease {lease}: leaseTransitions went back {st.transitions} -> {t}")
            st.transitions = t

    def _check_bindings(self, pods: list[dict[str, Any]]) -> None:
        for p in pods:
            node = (p.get("spec") or {}).get("nodeName")
            if not node:
                continue
            uid = p["metadata"]["uid"]
            was = self._bindings.setdefault(uid, node)
            if was != node:
                self.violation(f"pod {_name(p)} (uid {uid}) bound to {was}, then to {node}")

    def _check_resources(self, pods: list[dict[str, Any]]) -> None:
        used: dict[str, list[int]] = {}
        for p in pods:
            node = (p.get("spec") or {}).get("nodeName")
            st = p.get("status") or {}
            if not node or (st.get("phase") in _TERMINAL and not str(st.get("reason", "")).startswith("OutOf")):
                continue  # finished; a pod the kubelet rejected for want of room still counts
            row = used.setdefault(node, [0, 0, 0])
            for c in (p.get("spec") or {}).get("containers") or ():
                req = (c.get("resources") or {}).get("requests") or {}
                row[0] += cpu_millis(req.get("cpu", 0))
                row[1] += memory_bytes(req.get("memory", 0))
            row[2] += 1
        for n in self.spec.nodes:
            cpu, mem, count = used.get(n.name, (0, 0, 0))
            if cpu > cpu_millis(n.cpu) or mem > memory_bytes(n.memory) or count > n.pods:
                self.violation(f"node {n.name} overcommitted: {cpu}m cpu, {mem} B memory, "
                               f"{count} pods bound (allocatable {n.cpu}, {n.memory}, {n.pods})")

    def _check_sandboxes(self, pods: list[dict[str, Any]]) -> None:
        bound = {p["metadata"]["uid"]: ((p.get("spec") or {}).get("nodeName"), _name(p)) for p in pods}
        where: dict[str, str] = {}
        ips: dict[str, tuple[str, str]] = {}
        for node, host in sorted(self.hosts.items()):
            for sb in host.runtime.list_sandboxes():
                if sb.state != "SANDBOX_READY":
                    continue
                other = where.setdefault(sb.pod_uid, node)
                if other != node:
                    self.violation(f"pod {sb.namespace}/{sb.name} (uid {sb.pod_uid}) runs on "
                                   f"{other} and {node}")
                b = bound.get(sb.pod_uid)
                if b is not None and b[0] and b[0] != node:
                    self.violation(f"pod {b[1]} bound to {b[0]} runs on {node}")
                if sb.ip and not sb.host_network:
                    seen = ips.setdefault(sb.ip, (node, sb.pod_uid))
                    if seen != (node, sb.pod_uid):
                        self.violation(f"IP {sb.ip} held by pod {seen[1]} on {seen[0]} and pod "
                                       f"{sb.pod_uid} on {node}")

    # ---- watches and acknowledged writes ----------------------------------------------------
    def check_watch(self, prefix: str, start: int, events: Iterable[dict[str, Any]], what: str) -> int:
        """The watch's events after ``start`` are exactly the etcd history under ``prefix``
        (up to the last event seen). Returns the number of events compared."""
        store = self.store()
        if store is None:
            return 0
        seen = [int(e["object"]["metadata"]["resourceVersion"]) for e in events
                if e.get("type") in ("ADDED", "MODIFIED", "DELETED")]
        if not seen:
            return 0
        p = prefix.encode()
        try:
            truth = [ev.kv.mod_revision for ev in store.events(start + 1, p, _prefix_end(p))]
        except CompactedError:
            return 0
        truth = [r for r in truth if r <= seen[-1]]
        if truth != seen:
            at = next((i for i, (a, b) in enumerate(zip(truth, seen, strict=False)) if a != b),
                      min(len(truth), len(seen)))
            self.violation(f"watch {what}: events differ from the etcd history after revision "
                           f"{start} at position {at}: watch {seen[at:at + 3]}, etcd "
                           f"{truth[at:at + 3]} (gap, duplicate or reordering)")
        return len(seen)

    def check_acked(self, acked: list[Acked], final: dict[str, Acked]) -> None:
        store = self.store()
        if store is None:
            self.violation("no running etcd member to check acknowledged writes against")
            return
        for w in acked:
            if w.verb == "delete":
                continue
            try:
                kv = store.get(w.key.encode(), revision=w.revision)
            except CompactedError:
                continue
            if kv is None or kv.mod_revision != w.revision:
                self.violation(f"acknowledged {w.verb} of {w.key} at revision {w.revision} is "
                               f"not in the store's history")
        for key, w in sorted(final.items()):
            if w.verb in ("delete", "unknown"):
                continue
            kv = store.get(key.encode())
            if kv is None:
                self.violation(f"{key}: acknowledged at revision {w.revision}, gone from the store")
                continue
            obj = _DEC.decode(kv.value)
            if obj["metadata"].get("uid") != w.uid:
                self.violation(f"{key}: the store holds another object (uid "
                               f"{obj['metadata'].get('uid')}, acknowledged {w.uid})")
            elif w.spec is not None and _pick(obj.get("spec") or {}, w.spec) != w.spec:
                self.violation(f"{key}: the store's spec {_pick(obj.get('spec') or {}, w.spec)} "
                               f"is not the last acknowledged {w.spec}")

    # ---- liveness -----------------------------------------------------------------------------
    def converged(self, controllers: Iterable[str]) -> list[str]:
        """What is not converged yet (empty: everything is)."""
        enabled = set(controllers)
        store = self.store()
        if store is None:
            return ["no running etcd member"]
        out: list[str] = []
        pods = self.objects("/registry/pods/", store)
        rss = self.objects("/registry/replicasets/", store)
        for d in self.objects("/registry/deployments/", store):
            out += _deployment_pending(d, rss, pods)
        kinds = (("statefulset", "/registry/statefulsets/", _sts_pending),
                 ("job", "/registry/jobs/", _job_pending))
        for ctrl, prefix, fn in kinds:
            objs = self.objects(prefix, store)
            if ctrl not in enabled:
                if objs:
                    self.skipped.add(f"{ctrl} (no controller)")
                continue
            for o in objs:
                out += fn(o)
        services = [s for s in self.objects("/registry/services/specs/", store)
                    if (s.get("spec") or {}).get("selector")]
        if "endpoint" in enabled:
            eps = {_name(e): e for e in self.objects("/registry/services/endpoints/", store)}
            for s in services:
                out += _endpoints_pending(s, eps.get(_name(s)), pods)
        elif services:
            self.skipped.add("endpoints (no controller)")
        names = {n.name for n in self.spec.nodes}
        for node in self.objects("/registry/minions/", store):
            name = node["metadata"]["name"]
            if name in names and not _ready(node):
                out.append(f"node {name} not Ready")
        return out


def _prefix_end(p: bytes) -> bytes:
    return p[:-1] + bytes([p[-1] + 1])


def _name(o: dict[str, Any]) -> str:
    m = o.get("metadata") or {}
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def _pick(spec: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in want:
        if k == "image":
            cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
            out[k] = cs[0].get("image")
        else:
            out[k] = spec.get(k)
    return out


def _ready(o: dict[str, Any]) -> bool:
    conds = (o.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _owned_by(o: dict[str, Any], uid: str) -> bool:
    return any(r.get("uid") == uid and r.get("controller")
               for r in o["metadata"].get("ownerReferences") or ())


def _live(o: dict[str, Any]) -> bool:
    return not o["metadata"].get("deletionTimestamp") and \
        (o.get("status") or {}).get("phase") not in _TERMINAL


def _strip_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = msgspec.json.decode(msgspec.json.encode(template))
    labels = (t.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    return t


def _deployment_pending(d: dict[str, Any], rss: list[dict[str, Any]],
                        pods: list[dict[str, Any]]) -> list[str]:
    if d["metadata"].get("deletionTimestamp"):
        return []
    spec, st, name = d.get("spec") or {}, d.get("status") or {}, _name(d)
    want = spec.get("replicas", 1)
    uid, template = d["metadata"]["uid"], spec.get("template") or {}
    mine = [rs for rs in rss if _owned_by(rs, uid)]
    current = {rs["metadata"]["uid"] for rs in mine
               if _strip_hash((rs.get("spec") or {}).get("template") or {}) == template}
    ours = [p for p in pods if _live(p) and any(_owned_by(p, rs["metadata"]["uid"]) for rs in mine)]
    fresh = [p for p in ours if any(_owned_by(p, u) for u in current) and _ready(p)]
    out = []
    if len(fresh) != want or len(ours) != want:
        out.append(f"deployment {name}: {len(fresh)} ready pods of the current template, "
                   f"{len(ours)} pods in all, want {want}")
    if (st.get("observedGeneration", 0) < d["metadata"].get("generation", 0)
            or st.get("availableReplicas", 0) != want or st.get("updatedReplicas", 0) != want):
        out.append(f"deployment {name}: status {({k: st.get(k) for k in ('observedGeneration', 'updatedReplicas', 'availableReplicas')})} "
                   f"for generation {d['metadata'].get('generation')} and {want} replicas")
    return out


def _sts_pending(s: dict[str, Any]) -> list[str]:
    want = (s.get("spec") or {}).get("replicas", 1)
    st = s.get("status") or {}
    if st.get("readyReplicas", 0) != want or st.get("observedGeneration", 0) < s["metadata"].get("generation", 0):
        return [f"statefulset {_name(s)}: {st.get('readyReplicas', 0)}/{want} ready"]
    return []


def _job_pending(j: dict[str, Any]) -> list[str]:
    conds = (j.get("status") or {}).get("conditions") or ()
    if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds):
        return []
    return [f"job {_name(j)} not finished"]


def _endpoints_pending(s: dict[str, Any], ep: dict[str, Any] | None,
                       pods: list[dict[str, Any]]) -> list[str]:
    sel = (s.get("spec") or {}).get("selector") or {}
    ns = s["metadata"].get("namespace")
    want = sorted((p.get("status") or {}).get("podIP") for p in pods
                  if p["metadata"].get("namespace") == ns and _live(p) and _ready(p)
                  and (p.get("status") or {}).get("podIP")
                  and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items()))
    have = sorted(a.get("ip") for sub in ((ep or {}).get("subsets") or ())
                  for a in sub.get("addresses") or ())
    have = sorted(set(have))
    if sorted(set(want)) != have:
        return [f"service {_name(s)}: endpoints {have}, ready pods {sorted(set(want))}"]
    return []
