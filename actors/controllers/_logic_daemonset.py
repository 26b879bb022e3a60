"""DaemonSet reconcile (``pkg/controller/daemon``: daemon_controller.go, update.go, util).

What it is: ``node_should_run_daemon_pod(node, ds)`` (the template's nodeName, nodeSelector
and required node affinity must match; an untolerated NoSchedule/NoExecute taint stops new
pods, and only an untolerated NoExecute taint evicts running ones) and
``reconcile_daemonset(ds, nodes, pods, revisions, *, now)``: keep one pod per eligible node
(create with a node-name affinity, delete failed, succeeded, surplus and misplaced ones),
then roll out a new template with ``maxUnavailable`` (delete old, let the next sync create)
or ``maxSurge`` (create new beside old, delete old when the new one is available), then
trim history and write the status counts.

``DaemonSetMemo`` (one per controller, passed as ``memo=``) remembers what the last sync of
each set read of its nodes and pods, keyed by object identity (informer objects are replaced,
never mutated), so that a sync, which looks at every node as Kubernetes' does, costs little
per node when little changed; the plan is exactly the plan without it.

Concurrency model: none; functions of their arguments (and of the memo passed, which only
caches what they would compute).

Invariants: daemon pods carry the DaemonSet tolerations Kubernetes adds
(``node.kubernetes.io/not-ready`` and ``unreachable`` NoExecute without tolerationSeconds,
the pressure and unschedulable NoSchedule ones, network-unavailable for host network) and the
``controller-revision-hash`` label of the current ControllerRevision; a sync that creates
or deletes pods for the manage loop does not also roll (Go waits for its expectations).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.api import SelectorError, selector_from_api, selector_from_node_selector_requirements

from ._logic_replicaset import (
    claim_objects,
    is_pod_available,
    is_pod_ready,
    pod_ready_time,
    slow_start_batches,
)
from ._plan import (
    NORMAL,
    REVISION_HASH_LABEL,
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    annotations_of,
    controller_ref_of,
    creation_time,
    deep_copy,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    new_controller_ref,
    scaled_value,
    sync_controller_revisions,
    truncate_history,
    uid_of,
)

__all__ = ["node_should_run_daemon_pod", "reconcile_daemonset", "tolerates"]

DAEMONSET_BURST_REPLICAS = 250
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"

_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


# -- taints, tolerations and node affinity (component-helpers/scheduling) ----------------


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """``Toleration.ToleratesTaint``: an empty effect or key is a wildcard; Exists ignores
    the value; an empty operator means Equal."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(taints: Iterable[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]],
                 effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(tolerates(x, t) for x in tolerations)
               for t in taints)


def daemon_tolerations(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``AddOrUpdateDaemonPodTolerations``: the template's tolerations plus the daemon ones."""
    tols = [dict(t) for t in spec.get("tolerations") or ()]
    extra = list(_DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        extra.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in extra:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        tols = [t for t in tols if not (t.get("key") == key and t.get("effect") == effect)]
        tols.append(tol)
    return tols


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term selects no objects
    try:
        if exprs and not selector_from_node_selector_requirements(exprs).matches(labels_of(node)):
            return False
    except SelectorError:
        return False
    for f in fields:
        values = f.get("values") or []
        if f.get("key") != "metadata.name" or len(values) != 1:
            return False
        if (name_of(node) in values) != (f.get("operator") == "In"):
            return False
    return True


def node_matches_pod_spec(node: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """``GetRequiredNodeAffinity(pod).Match(node)``: nodeSelector AND required terms (ORed)."""
    labels = labels_of(node)
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or ())


def node_should_run_daemon_pod(node: Mapping[str, Any], ds: Mapping[str, Any],
                               tolerations: list[dict[str, Any]] | None = None
                               ) -> tuple[bool, bool]:
    """``NodeShouldRunDaemonPod``: (should run, should continue running). ``tolerations``:
    the template's ``daemon_tolerations``, when the caller computed them already."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != name_of(node):
        return False, False
    if not node_matches_pod_spec(node, spec):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    if not taints:
        return True, True
    tols = daemon_tolerations(spec) if tolerations is None else tolerations
    if _untolerated(taints, tols, ("NoSchedule", "NoExecute")):
        return False, not _untolerated(taints, tols, ("NoExecute",))
    return True, True


# -- the memo: what a controller remembers between syncs ---------------------------------
#
# A sync looks at every node and every pod of the set, as Kubernetes' does; the memo makes
# that look cheap when little changed since the previous sync. It relies on the informer's
# invariant that cached objects are never mutated (an update replaces the object): what
# it remembers of a node or pod is keyed by the object's identity and holds the object, so
# an id is never reused while its entry lives. Node decisions are also keyed by the
# template's pod spec, pod claims by the set's namespace, uid and selector (compared by
# ``_same``: deep, type-strict equality). Each sync rebuilds a set's entries from the nodes
# and pods it is given, so deleted nodes and pods are forgotten at the next sync.

_OWNED, _SLOW, _SKIP = "owned", "slow", "skip"  # claim classes of a pod for one set
_UNSET: Any = object()
_by_name = operator.itemgetter(1)


def _same(a: Any, b: Any) -> bool:
    """Deep equality that also requires equal types and dict order (``1``, ``1.0`` and
    ``True`` differ), so any function of ``a`` gives the same result for ``b``; values of
    other types are the same only when they are the same object."""
    if a is b:
        return True
    t = type(a)
    if t is not type(b):
        return False
    if t is dict:
        return len(a) == len(b) and all(_same(ka, kb) and _same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if t is list or t is tuple:
        return len(a) == len(b) and all(map(_same, a, b))
    if t is str or t is int or t is float or t is bool:
        return bool(a == b)
    return False


def _claim_class(pod: Mapping[str, Any], namespace: str, uid: str, selector: Any) -> str:
    """What ``claim_objects`` does with ``pod`` for a set that is not being deleted: keep it
    (owned, matching), ignore it (other namespace or owner; an orphan it would not adopt),
    or patch it (release or adopt: ``_SLOW``, left to ``claim_objects``)."""
    if namespace_of(pod) != namespace:
        return _SKIP
    ref = controller_ref_of(pod)
    ok = selector.matches(labels_of(pod))
    if ref is not None:
        if ref.get("uid") != uid:
            return _SKIP
        return _OWNED if ok else _SLOW
    return _SLOW if ok and not meta_of(pod).get("deletionTimestamp") else _SKIP


class _PodFacts:
    """What a sync reads of one daemon pod, read once per pod object."""

    __slots__ = ("pod", "cls", "deleting", "terminal", "simple", "target", "hash", "gen",
                 "ready", "_since")

    def __init__(self, pod: Mapping[str, Any], cls: str) -> None:
        self.pod, self.cls = pod, cls
        if cls is _SKIP:
            return
        self.deleting = bool(meta_of(pod).get("deletionTimestamp"))
        phase = (pod.get("status") or {}).get("phase")
        self.terminal = phase in ("Succeeded", "Failed")
        # One such pod on a node that should run it is all ``_pods_should_be_on_node`` keeps.
        self.simple = not self.deleting and not self.terminal
        self.target = _target_node(pod)
        labels = labels_of(pod)
        self.hash, self.gen = labels.get(REVISION_HASH_LABEL), labels.get(TEMPLATE_GENERATION_LABEL)
        self.ready = is_pod_ready(pod)
        self._since: Any = _UNSET

    def updated(self, hash_: str, generation: str | None) -> bool:
        """``_is_updated``."""
        return (bool(hash_) and self.hash == hash_) or (generation is not None and self.gen == generation)

    def available(self, min_ready: Any, now: float) -> bool:
        """``is_pod_available``."""
        if not self.ready:
            return False
        if not min_ready:
            return True
        if self._since is _UNSET:
            self._since = pod_ready_time(self.pod)
        return self._since is not None and self._since + min_ready < now


class _SetMemo:
    """One DaemonSet's memo: its nodes (sorted, with their decisions) and its pods' facts."""

    __slots__ = ("spec", "claim_key", "node_ids", "entries", "nodes", "names", "name_set", "runs",
                 "by_name", "desired", "unique", "pods")

    def __init__(self) -> None:
        self.spec: Any = _UNSET
        self.claim_key: Any = _UNSET
        self.node_ids: list[int] | None = None
        self.entries: dict[int, tuple[Mapping[str, Any], str, tuple[bool, bool]]] = {}
        self.nodes: list[Mapping[str, Any]] = []
        self.names: list[str] = []
        self.name_set: set[str] = set()
        self.runs: list[tuple[bool, bool]] = []
        self.by_name: dict[str, tuple[bool, bool]] = {}
        self.desired, self.unique = 0, True
        self.pods: dict[int, _PodFacts] = {}

    def sync_nodes(self, ds: Mapping[str, Any], nodes: list[Mapping[str, Any]]) -> None:
        spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        if not _same(spec, self.spec):
            self.spec, self.entries, self.node_ids = spec, {}, None
        ids = list(map(id, nodes))
        if ids == self.node_ids:  # the same objects: the previous list's are held in entries
            return
        old, entries = self.entries, {}
        tolerations = None
        for node in nodes:
            e = old.get(id(node))
            if e is None or e[0] is not node:
                if tolerations is None:
                    tolerations = daemon_tolerations(spec)
                e = (node, name_of(node), node_should_run_daemon_pod(node, ds, tolerations))
            entries[id(node)] = e
        ordered = sorted([entries[id(n)] for n in nodes], key=_by_name)  # = sorted(nodes, key=name_of)
        self.entries, self.node_ids = entries, ids
        self.nodes = [e[0] for e in ordered]
        self.names = [e[1] for e in ordered]
        self.runs = [e[2] for e in ordered]
        self.by_name = dict(zip(self.names, self.runs))
        self.name_set = set(self.names)
        self.unique = len(self.name_set) == len(self.names)
        self.desired = sum(1 for r in self.runs if r[0])

    def sync_pods(self, ref: ObjectRef, pods: Iterable[Mapping[str, Any]], raw_selector: Any,
                  selector: Any) -> list[_PodFacts]:
        key = (ref.namespace, ref.uid)
        if self.claim_key is _UNSET or self.claim_key[0] != key or not _same(self.claim_key[1], raw_selector):
            self.claim_key, self.pods = (key, raw_selector), {}
        old, new, out = self.pods, {}, []
        for pod in pods:
            f = old.get(id(pod))
            if f is None or f.pod is not pod:
                f = _PodFacts(pod, _claim_class(pod, ref.namespace, ref.uid, selector))
            new[id(pod)] = f
            out.append(f)
        self.pods = new
        return out


class DaemonSetMemo:
    """What one DaemonSet controller remembers between syncs (pass it to every
    ``reconcile_daemonset`` of that controller, and nowhere else): per set, the last nodes
    and pods it was given and what was read of them. Bounded: the sets it saw last
    (``max_sets``), each with the nodes and pods of its last sync; ``forget`` a deleted set."""

    def __init__(self, max_sets: int = 256) -> None:
        self.max_sets = max_sets
        self._sets: dict[str, _SetMemo] = {}  # set uid -> memo, least recently used first

    def __len__(self) -> int:
        return len(self._sets)

    def forget(self, uid: str) -> None:
        self._sets.pop(uid, None)

    def _of(self, ds: Mapping[str, Any]) -> _SetMemo:
        uid = uid_of(ds)
        m = self._sets.pop(uid, None) or _SetMemo()
        self._sets[uid] = m
        while len(self._sets) > self.max_sets:
            del self._sets[next(iter(self._sets))]
        return m


def _surge_allowed_raises(ds: Mapping[str, Any]) -> bool:
    try:
        _surge_allowed(ds)
    except Exception:
        return True
    return False


# -- pods on nodes ------------------------------------------------------------------------


def _target_node(pod: Mapping[str, Any]) -> str:
    """``GetTargetNodeName``: spec.nodeName, else the node-name affinity we set."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or ():
        for f in term.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return f["values"][0]
    return ""


def _by_creation_and_phase(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    """``podByCreationTimestampAndPhase``: scheduled first, then oldest, then by name."""
    sa, sb = bool((a.get("spec") or {}).get("nodeName")), bool((b.get("spec") or {}).get("nodeName"))
    if sa != sb:
        return -1 if sa else 1
    ta, tb = creation_time(a) or 0.0, creation_time(b) or 0.0
    if ta != tb:
        return -1 if ta < tb else 1
    na, nb = name_of(a), name_of(b)
    return (na > nb) - (na < nb)


def _sorted_pods(pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(pods, key=functools.cmp_to_key(_by_creation_and_phase))


def _template_generation(ds: Mapping[str, Any]) -> str | None:
    return annotations_of(ds).get(TEMPLATE_GENERATION_ANNOTATION)


def _is_updated(pod: Mapping[str, Any], hash_: str, generation: str | None) -> bool:
    labels = labels_of(pod)
    return (bool(hash_) and labels.get(REVISION_HASH_LABEL) == hash_) or (
        generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == generation)


class _Ctx:
    def __init__(self, ds: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], now: float,
                 hash_: str, b: PlanBuilder, memo: _SetMemo | None = None) -> None:
        self.ds, self.now, self.hash, self.b = ds, now, hash_, b
        # With a memo: the nodes come sorted, and should_run / available / updated read what
        # the memo remembers of each node and pod (the same values, computed once).
        self.nodes = memo.nodes if memo is not None else sorted(nodes, key=name_of)
        self.ref = ObjectRef.of(ds, api_version="apps/v1", kind="DaemonSet")
        self.min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
        self.generation = _template_generation(ds)
        self._tolerations = daemon_tolerations(
            ((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
        self._should_run: dict[str, tuple[bool, bool]] = {}
        self._memo = memo
        self.desired: int | None = memo.desired if memo is not None else None

    def should_run(self, node: Mapping[str, Any]) -> tuple[bool, bool]:
        """``node_should_run_daemon_pod`` for this sync's DaemonSet, once per node."""
        name = name_of(node)
        if self._memo is not None and (got := self._memo.by_name.get(name)) is not None:
            return got
        got = self._should_run.get(name)
        if got is None:
            got = self._should_run[name] = node_should_run_daemon_pod(
                node, self.ds, self._tolerations)
        return got

    def _facts(self, pod: Mapping[str, Any]) -> _PodFacts | None:
        if self._memo is None:
            return None
        f = self._memo.pods.get(id(pod))
        return f if f is not None and f.pod is pod else None

    def available(self, pod: Mapping[str, Any]) -> bool:
        f = self._facts(pod)
        if f is None or f.cls is _SKIP:
            return is_pod_available(pod, self.min_ready, self.now)
        return f.available(self.min_ready, self.now)

    def updated(self, pod: Mapping[str, Any]) -> bool:
        f = self._facts(pod)
        if f is None or f.cls is _SKIP:
            return _is_updated(pod, self.hash, self.generation)
        return f.updated(self.hash, self.generation)


def _surge_allowed(ds: Mapping[str, Any]) -> bool:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return False
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge")
    return surge is not None and scaled_value(surge, 1, round_up=True) > 0


def _pods_should_be_on_node(c: _Ctx, node: Mapping[str, Any], daemon_pods: list[Mapping[str, Any]],
                            backoff: Mapping[str, float]) -> tuple[bool, list[Mapping[str, Any]]]:
    """``podsShouldBeOnNode``: (needs a pod, pods to delete)."""
    should_run, should_continue = c.should_run(node)
    node_name, delete = name_of(node), []
    if should_run and not daemon_pods:
        return True, []
    if should_continue:
        running = []
        for pod in daemon_pods:
            if meta_of(pod).get("deletionTimestamp"):
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Failed":
                if backoff.get(node_name, 0.0) > c.now:  # failedPodsBackoff: avoid a hot loop
                    c.b.requeue_after(backoff[node_name] - c.now)
                    continue
                c.b.event(WARNING, "FailedDaemonPod", f"Found failed daemon pod {namespace_of(pod)}/"
                          f"{name_of(pod)} on node {node_name}, will try to kill it", c.ref)
                delete.append(pod)
            elif phase == "Succeeded":
                c.b.event(NORMAL, "SucceededDaemonPod", f"Found succeeded daemon pod {namespace_of(pod)}/"
                          f"{name_of(pod)} on node {node_name}, will try to delete it", c.ref)
                delete.append(pod)
            else:
                running.append(pod)
        running = _sorted_pods(running)
        if not _surge_allowed(c.ds):
            return False, delete + running[1:]
        if len(running) <= 1:
            return (not running and should_run), delete
        oldest_new = next((p for p in running if labels_of(p).get(REVISION_HASH_LABEL) == c.hash), None)
        oldest_old = next((p for p in running if labels_of(p).get(REVISION_HASH_LABEL) != c.hash), None)
        delete += [p for p in running if p is not oldest_new and p is not oldest_old]
        if oldest_new is not None and oldest_old is not None:
            if not is_pod_ready(oldest_old) or c.available(oldest_new):
                delete.append(oldest_old)
        return False, delete
    return False, [p for p in daemon_pods if not meta_of(p).get("deletionTimestamp")]


def _nodes_to_pods(c: _Ctx, pods: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if terminal and meta_of(pod).get("deletionTimestamp"):
            continue
        out.setdefault(_target_node(pod), []).append(pod)
    return out


def _manage(c: _Ctx, node_pods: Mapping[str, list[Mapping[str, Any]]],
            backoff: Mapping[str, float]) -> tuple[list[str], list[Mapping[str, Any]]]:
    create, delete = [], []
    names = set()
    for node in c.nodes:
        names.add(name_of(node))
        needs, dels = _pods_should_be_on_node(c, node, node_pods.get(name_of(node), []), backoff)
        if needs:
            create.append(name_of(node))
        delete += dels
    # Unscheduled pods aimed at nodes that no longer exist would never be scheduled.
    for node_name, pods in sorted(node_pods.items()):
        if node_name not in names:
            delete += [p for p in pods if not (p.get("spec") or {}).get("nodeName")]
    return create, delete


def _desired(c: _Ctx) -> int:
    if c.desired is not None:
        return c.desired
    return sum(1 for n in c.nodes if c.should_run(n)[0])


def _rollout_budget(c: _Ctx) -> tuple[int, int]:
    """``updatedDesiredNodeCounts``: (maxSurge, maxUnavailable), both rounding up; an
    impossible 0/0 falls back to one unavailable."""
    strategy = (c.ds.get("spec") or {}).get("updateStrategy") or {}
    ru = strategy.get("rollingUpdate") or {}
    desired = _desired(c)
    unavailable = scaled_value(ru.get("maxUnavailable", 1), desired, round_up=True)
    surge = scaled_value(ru.get("maxSurge"), desired, round_up=True) if _surge_allowed(c.ds) else 0
    if desired > 0 and unavailable == 0 and surge == 0:
        unavailable = 1
    return surge, unavailable


def _split(c: _Ctx, pods: Sequence[Mapping[str, Any]]) -> tuple[Any, Any, bool]:
    """``findUpdatedPodsOnNode``: (new pod, old pod, ok); not ok with two of either."""
    new = old = None
    for pod in pods:
        if meta_of(pod).get("deletionTimestamp"):
            continue
        if c.updated(pod):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def _rolling_update(c: _Ctx, node_pods: dict[str, list[Mapping[str, Any]]]
                    ) -> tuple[list[str], list[Mapping[str, Any]]]:
    surge, max_unavailable = _rollout_budget(c)
    nodes = {name_of(n): n for n in c.nodes}
    for n in c.nodes:
        if c.should_run(n)[0]:
            node_pods.setdefault(name_of(n), [])
    if surge == 0:
        unavailable, replace, candidates = 0, [], []
        for node_name in sorted(node_pods):
            new, old, ok = _split(c, node_pods[node_name])
            if not ok or (new is None) == (old is None):
                unavailable += 1  # the manage loop will fix this node
            elif new is not None:
                unavailable += 0 if c.available(new) else 1
            elif not c.available(old):
                replace.append(old)
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old)
        room = min(max(0, max_unavailable - unavailable), len(candidates))
        return [], replace + candidates[:room]
    return _surge_update(c, node_pods, nodes, surge)


def _surge_update(c: _Ctx, node_pods: Mapping[str, list[Mapping[str, Any]]],
                  nodes: Mapping[str, Mapping[str, Any]], surge: int
                  ) -> tuple[list[str], list[Mapping[str, Any]]]:
    delete, not_run_delete, candidates, allowed = [], [], [], []
    surging = available = 0
    for node_name in sorted(node_pods):
        new, old, ok = _split(c, node_pods[node_name])
        if not ok:
            surging += 1
            continue
        current = old if old is not None else new
        available += 1 if current is not None and c.available(current) else 0
        if old is None:
            continue
        should_run = node_name in nodes and c.should_run(nodes[node_name])[0]
        if new is None:
            if not c.available(old):
                if should_run:
                    allowed.append(node_name)  # replace an unavailable pod at once
                else:
                    delete.append(old)
            elif not should_run:
                not_run_delete.append(old)
            elif surging < surge:
                candidates.append(node_name)
        elif not c.available(new):
            surging += 1
        else:
            delete.append(old)
    if (deletable := available - _desired(c)) > 0:
        delete += not_run_delete[:deletable]
    room = min(max(0, surge - surging), len(candidates))
    return allowed + candidates[:room], delete


def _daemon_pod_body(c: _Ctx, node_name: str) -> dict[str, Any]:
    """``CreatePodTemplate`` + ``ReplaceDaemonSetPodNodeNameNodeAffinity``."""
    template = deep_copy((c.ds.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    spec["tolerations"] = daemon_tolerations(spec)
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if c.generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = c.generation
    if c.hash:
        labels[REVISION_HASH_LABEL] = c.hash
    affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    meta: dict[str, Any] = {"generateName": f"{name_of(c.ds)}-", "namespace": namespace_of(c.ds),
                            "labels": labels}
    for field in ("annotations", "finalizers"):
        if template["metadata"].get(field):
            meta[field] = template["metadata"][field]
    meta["ownerReferences"] = [new_controller_ref(c.ds, api_version="apps/v1", kind="DaemonSet")]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _sync_nodes(c: _Ctx, create: Sequence[str], delete: Sequence[Mapping[str, Any]], burst: int) -> None:
    """``syncNodes``: creates in slow-start batches, then deletes, each capped at the burst."""
    ok = Event(type=NORMAL, reason="SuccessfulCreate", message="Created pod: {name}", involved=c.ref)
    bad = Event(type=WARNING, reason="FailedCreate", message="Error creating: {error}", involved=c.ref)
    pod_ref = ObjectRef(api_version="v1", kind="Pod", namespace=c.ref.namespace)
    todo = list(create[:burst])
    for i, size in enumerate(slow_start_batches(len(todo))):
        for node_name in todo[:size]:
            c.b.create(pod_ref, _daemon_pod_body(c, node_name), batch=i, on_success=[ok], on_failure=[bad])
        todo = todo[size:]
    seen = set()
    for pod in delete[:burst]:
        if name_of(pod) in seen:
            continue
        seen.add(name_of(pod))
        ref = ObjectRef.of(pod, api_version="v1", kind="Pod")
        c.b.delete(ref, on_success=[Event(type=NORMAL, reason="SuccessfulDelete",
                                          message=f"Deleted pod: {ref.name}", involved=c.ref)],
                   on_failure=[Event(type=WARNING, reason="FailedDelete",
                                     message="Error deleting: {error}", involved=c.ref)])


def _status(c: _Ctx, node_pods: Mapping[str, list[Mapping[str, Any]]], observe: bool,
            collision_count: int | None) -> dict[str, Any]:
    desired = current = misscheduled = ready = updated = available = 0
    for node in c.nodes:
        should_run, _ = c.should_run(node)
        pods = node_pods.get(name_of(node)) or []
        if not should_run:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = _sorted_pods(pods)[0]
        if is_pod_ready(pod):
            ready += 1
            available += 1 if c.available(pod) else 0
        updated += 1 if c.updated(pod) else 0
    return _status_of(c, (desired, current, misscheduled, ready, updated, available), observe,
                      collision_count)


def _status_of(c: _Ctx, counts: tuple[int, int, int, int, int, int], observe: bool,
               collision_count: int | None) -> dict[str, Any]:
    desired, current, misscheduled, ready, updated, available = counts
    status = deep_copy(c.ds.get("status") or {})
    status.update(desiredNumberScheduled=desired, currentNumberScheduled=current,
                  numberMisscheduled=misscheduled, numberReady=ready,
                  updatedNumberScheduled=updated, numberAvailable=available,
                  numberUnavailable=desired - available)
    if observe and meta_of(c.ds).get("generation") is not None:
        status["observedGeneration"] = meta_of(c.ds)["generation"]
    if collision_count is not None:
        status["collisionCount"] = collision_count
    return status


def reconcile_daemonset(ds: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]],
                        pods: Iterable[Mapping[str, Any]], revisions: Iterable[Mapping[str, Any]] = (),
                        *, now: float, expectations_satisfied: bool = True,
                        failed_pod_backoff_until: Mapping[str, float] | None = None,
                        burst_replicas: int = DAEMONSET_BURST_REPLICAS,
                        memo: DaemonSetMemo | None = None) -> Plan:
    """One ``syncDaemonSet``. ``pods`` and ``revisions`` are the namespace's; the shell keeps
    the failed-pod back-off (1 s doubling to 15 min per node) and passes when each ends.
    ``memo``: the controller's ``DaemonSetMemo``; the plan is the same with or without it
    (it only makes a sync that finds little changed cheaper)."""
    b = PlanBuilder()
    if meta_of(ds).get("deletionTimestamp"):
        return b.build()
    ref = ObjectRef.of(ds, api_version="apps/v1", kind="DaemonSet")
    spec = ds.get("spec") or {}
    revisions = list(revisions)
    cur, collisions = sync_controller_revisions(
        ds, revisions, owner_ref=ref, template=spec.get("template") or {},
        collision_count=(ds.get("status") or {}).get("collisionCount"), builder=b)
    nodes = list(nodes)
    if memo is not None:
        m = memo._of(ds)
        m.sync_nodes(ds, nodes)
        # Nodes sharing a name, or a strategy _surge_allowed cannot read: the plain path.
        if m.unique and not _surge_allowed_raises(ds):
            return _reconcile_memo(ds, m, pods, revisions, cur, collisions, b, now=now,
                                   expectations_satisfied=expectations_satisfied,
                                   backoff=failed_pod_backoff_until or {}, burst_replicas=burst_replicas)
    c = _Ctx(ds, nodes, now, labels_of(cur).get(REVISION_HASH_LABEL, ""), b)
    selector = selector_from_api(spec.get("selector"))
    owned = claim_objects(ds, [p for p in pods if namespace_of(p) == ref.namespace], selector,
                          owner_ref=ref, child_api_version="v1", child_kind="Pod", builder=b)
    node_pods = _nodes_to_pods(c, owned)
    if expectations_satisfied:
        create, delete = _manage(c, node_pods, failed_pod_backoff_until or {})
        strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
        if not create and not delete and strategy == "RollingUpdate":
            create, delete = _rolling_update(c, {k: list(v) for k, v in node_pods.items()})
        _sync_nodes(c, create, delete, burst_replicas)
        live = {f"{name_of(ds)}-{h}" for p in owned if (h := labels_of(p).get(REVISION_HASH_LABEL))}
        truncate_history(revisions, owner_ref=ref, live_names=live | {name_of(cur)},
                         limit=int(spec.get("revisionHistoryLimit", 10)), builder=b)
    status = _status(c, node_pods, expectations_satisfied, collisions)
    if status != (ds.get("status") or {}):
        b.update(ref, {**deep_copy(dict(ds)), "status": status}, subresource="status")
    if c.min_ready > 0 and status["numberReady"] != status["numberAvailable"]:
        b.requeue_after(c.min_ready)
    return b.build()


def _reconcile_memo(ds: Mapping[str, Any], m: _SetMemo, pods: Iterable[Mapping[str, Any]],
                    revisions: list[Mapping[str, Any]], cur: Mapping[str, Any],
                    collisions: int | None, b: PlanBuilder, *, now: float,
                    expectations_satisfied: bool, backoff: Mapping[str, float],
                    burst_replicas: int) -> Plan:
    """``reconcile_daemonset`` from the memo's facts: the same steps in the same order, with
    the per-node work reduced to a lookup where the answer is known (one running pod on a
    node that should run it; no pod at all), and the reference functions doing the rest."""
    spec = ds.get("spec") or {}
    c = _Ctx(ds, (), now, labels_of(cur).get(REVISION_HASH_LABEL, ""), b, memo=m)
    ref = c.ref
    selector = selector_from_api(spec.get("selector"))
    hash_, gen, min_ready = c.hash, c.generation, c.min_ready
    owned: list[_PodFacts] = []
    # _nodes_to_pods without a list per node: each target's first pod, and for the targets
    # with more than one, all of them (in the same order).
    first: dict[str, _PodFacts] = {}
    more: dict[str, list[Mapping[str, Any]]] = {}
    has_old = False
    for f in m.sync_pods(ref, pods, spec.get("selector"), selector):  # claim_objects + _nodes_to_pods
        if f.cls is not _OWNED:
            if f.cls is _SKIP or not claim_objects(ds, [f.pod], selector, owner_ref=ref, child_api_version="v1",
                                                   child_kind="Pod", builder=b):
                continue
        owned.append(f)
        if f.terminal and f.deleting:
            continue
        got = first.setdefault(f.target, f)
        if got is not f:
            if (pods_there := more.get(f.target)) is None:
                more[f.target] = [got.pod, f.pod]
            else:
                pods_there.append(f.pod)
        if not has_old and not f.deleting and not f.updated(hash_, gen):
            has_old = True
    facts = m.pods
    manage = expectations_satisfied
    create: list[str] = []
    delete: list[Mapping[str, Any]] = []
    desired = current = misscheduled = ready = updated = available = 0
    for node, name, run in zip(m.nodes, m.names, m.runs):  # _manage and _status
        f = first.get(name)
        if f is None:
            if run[0]:
                desired += 1
                if manage:
                    create.append(name)
            continue
        daemon_pods = more.get(name) if more else None
        if manage and not (run[0] and run[1] and daemon_pods is None and f.simple):
            needs, dels = _pods_should_be_on_node(c, node, daemon_pods or [f.pod], backoff)
            if needs:
                create.append(name)
            delete += dels
        if not run[0]:
            misscheduled += 1
            continue
        desired += 1
        current += 1
        if daemon_pods is not None:
            f = facts[id(_sorted_pods(daemon_pods)[0])]
        if f.ready:
            ready += 1
            available += 1 if f.available(min_ready, now) else 0
        updated += 1 if f.updated(hash_, gen) else 0
    if manage:
        for node_name in sorted(first.keys() - m.name_set):
            delete += [p for p in more.get(node_name) or [first[node_name].pod]
                       if not (p.get("spec") or {}).get("nodeName")]
        strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
        if not create and not delete and strategy == "RollingUpdate":
            if has_old:
                create, delete = _rolling_update(c, {k: list(more[k]) if k in more else [f.pod]
                                                     for k, f in first.items()})
            else:
                _rollout_budget(c)  # as _rolling_update would (it rejects a bad maxUnavailable); nothing to roll
        _sync_nodes(c, create, delete, burst_replicas)
        live = {f"{name_of(ds)}-{h}" for h in {f.hash for f in owned} if h}
        truncate_history(revisions, owner_ref=ref, live_names=live | {name_of(cur)},
                         limit=int(spec.get("revisionHistoryLimit", 10)), builder=b)
    status = _status_of(c, (desired, current, misscheduled, ready, updated, available),
                        expectations_satisfied, collisions)
    if status != (ds.get("status") or {}):
        b.update(ref, {**deep_copy(dict(ds)), "status": status}, subresource="status")
    if c.min_ready > 0 and status["numberReady"] != status["numberAvailable"]:
        b.requeue_after(c.min_ready)
    return b.build()
