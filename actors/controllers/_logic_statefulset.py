"""StatefulSet reconcile (``pkg/controller/statefulset``: stateful_set_control.go,
stateful_pod_control.go, stateful_set_utils.go).

What it is: ``reconcile_statefulset(sts, pods, revisions, claims, *, now)`` returns one
``updateStatefulSet``: pods named ``<set>-<ordinal>`` (hostname the pod name, subdomain
``serviceName``, labels ``statefulset.kubernetes.io/pod-name`` and
``apps.kubernetes.io/pod-index``, ``controller-revision-hash`` the revision's name), each
created after its claims ``<claim>-<set>-<ordinal>``. OrderedReady creates one pod at a time
in increasing ordinal order, waiting for each to be Running, Ready and available, and
removes surplus pods one at a time from the highest ordinal, only while every other pod is
healthy; Parallel does all at once. A RollingUpdate deletes, from the highest ordinal down to
``partition``, one pod not at the update revision at a time (the next sync recreates it at
the update revision) and waits for unhealthy pods; pods below the partition are recreated at
the current revision. Status counts replicas, ready, available, current and updated pods,
and promotes the update revision to current once every pod has it.

Concurrency model: none; pure functions. ``pods``, ``revisions`` (ControllerRevisions) and
``claims`` (PersistentVolumeClaims) are the namespace's.

Invariants: at most one pod is created or deleted per OrderedReady sync (it then waits for
the informer, as Go returns and relies on the next event); a failed or succeeded pod is
deleted and recreated by a later sync. Not modelled: maxUnavailable (alpha), the PVC
retention policy (claims are kept, as with the default Retain), ``spec.ordinals.start``
beyond numbering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.api import selector_from_api

from ._logic_replicaset import claim_objects, is_pod_available, is_pod_ready, pod_from_template
from ._plan import (
    NORMAL,
    REVISION_HASH_LABEL,
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    deep_copy,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    sync_controller_revisions,
    truncate_history,
)

__all__ = ["claim_name", "pod_ordinal", "reconcile_statefulset"]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"(.*)-([0-9]+)$")


def pod_ordinal(pod: Mapping[str, Any]) -> tuple[str, int]:
    """``getParentNameAndOrdinal``: ("web", 2) for "web-2", ("", -1) otherwise."""
    m = _ORDINAL.fullmatch(name_of(pod))
    return (m.group(1), int(m.group(2))) if m else ("", -1)


def claim_name(claim_template: Mapping[str, Any], set_name: str, ordinal: int) -> str:
    """``getPersistentVolumeClaimName``: ``<claim>-<set>-<ordinal>``."""
    return f"{name_of(claim_template)}-{set_name}-{ordinal}"


def _phase(pod: Mapping[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _created(pod: Mapping[str, Any]) -> bool:
    return _phase(pod) != ""


def _terminating(pod: Mapping[str, Any]) -> bool:
    return bool(meta_of(pod).get("deletionTimestamp"))


def _running_ready(pod: Mapping[str, Any]) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


def _healthy(pod: Mapping[str, Any]) -> bool:
    return _running_ready(pod) and not _terminating(pod)


class _Set:
    """One sync's view: the set, its revisions' templates, and the plan being built."""

    def __init__(self, sts: Mapping[str, Any], claims: Iterable[Mapping[str, Any]], now: float,
                 b: PlanBuilder) -> None:
        self.sts, self.now, self.b = sts, now, b
        self.spec = sts.get("spec") or {}
        self.name = name_of(sts)
        self.ref = ObjectRef.of(sts, api_version="apps/v1", kind="StatefulSet")
        self.start = int((self.spec.get("ordinals") or {}).get("start") or 0)
        self.replicas = int(self.spec.get("replicas", 1))
        self.min_ready = int(self.spec.get("minReadySeconds") or 0)
        self.monotonic = self.spec.get("podManagementPolicy") != "Parallel"
        strategy = self.spec.get("updateStrategy") or {}
        self.strategy = strategy.get("type") or "RollingUpdate"
        self.partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        self.claims = {name_of(c) for c in claims if namespace_of(c) == self.ref.namespace}
        self.current_name = self.update_name = ""
        self.current_template: Mapping[str, Any] = {}
        self.update_template: Mapping[str, Any] = {}

    def available(self, pod: Mapping[str, Any]) -> bool:
        return _running_ready(pod) and is_pod_available(pod, self.min_ready, self.now)

    def new_pod(self, ordinal: int) -> dict[str, Any]:
        """``newVersionedStatefulSetPod``: below the partition at the current revision."""
        use_current = self.strategy == "RollingUpdate" and ordinal < self.start + self.partition
        template = self.current_template if use_current else self.update_template
        revision = self.current_name if use_current else self.update_name
        pod = pod_from_template(template, self.sts, owner_api_version="apps/v1", owner_kind="StatefulSet")
        name = f"{self.name}-{ordinal}"
        del pod["metadata"]["generateName"]
        pod["metadata"]["name"] = name
        self._set_identity(pod, ordinal)
        pod["metadata"].setdefault("labels", {})[REVISION_HASH_LABEL] = revision
        return pod

    def _set_identity(self, pod: dict[str, Any], ordinal: int) -> None:
        """``updateIdentity`` + ``updateStorage``."""
        name = f"{self.name}-{ordinal}"
        labels = pod["metadata"].setdefault("labels", {})
        labels[POD_NAME_LABEL] = name
        labels[POD_INDEX_LABEL] = str(ordinal)
        spec = pod.setdefault("spec", {})
        spec["hostname"] = name
        if self.spec.get("serviceName"):
            spec["subdomain"] = self.spec["serviceName"]
        templates = self.spec.get("volumeClaimTemplates") or []
        wanted = {name_of(t): claim_name(t, self.name, ordinal) for t in templates}
        volumes = [v for v in spec.get("volumes") or () if v.get("name") not in wanted]
        volumes += [{"name": vol, "persistentVolumeClaim": {"claimName": claim}} for vol, claim in wanted.items()]
        if volumes:
            spec["volumes"] = volumes

    def identity_ok(self, pod: Mapping[str, Any]) -> bool:
        """``identityMatches`` and ``storageMatches``."""
        _, ordinal = pod_ordinal(pod)
        name, labels, spec = name_of(pod), labels_of(pod), pod.get("spec") or {}
        if labels.get(POD_NAME_LABEL) != name or labels.get(POD_INDEX_LABEL) != str(ordinal):
            return False
        if spec.get("hostname") != name or spec.get("subdomain") != (self.spec.get("serviceName") or None):
            return False
        volumes = {v.get("name"): (v.get("persistentVolumeClaim") or {}).get("claimName")
                   for v in spec.get("volumes") or ()}
        return all(volumes.get(name_of(t)) == claim_name(t, self.name, ordinal)
                   for t in self.spec.get("volumeClaimTemplates") or ())

    def event(self, verb: str, pod: str) -> tuple[Event, Event]:
        """``recordPodEvent``'s pair: "create Pod web-0 in StatefulSet web successful"."""
        return (Event(type=NORMAL, reason=f"Successful{verb.title()}", involved=self.ref,
                      message=f"{verb} Pod {pod} in StatefulSet {self.name} successful"),
                Event(type=WARNING, reason=f"Failed{verb.title()}", involved=self.ref,
                      message=f"{verb} Pod {pod} in StatefulSet {self.name} failed error: {{error}}"))

    def create_claims(self, ordinal: int, pod: str) -> None:
        """``createPersistentVolumeClaims``: the pod's missing claims, labelled like the set."""
        match = (self.spec.get("selector") or {}).get("matchLabels") or {}
        for template in self.spec.get("volumeClaimTemplates") or ():
            name = claim_name(template, self.name, ordinal)
            if name in self.claims:
                continue
            self.claims.add(name)
            body = deep_copy(dict(template))
            meta = body.setdefault("metadata", {})
            meta.update(name=name, namespace=self.ref.namespace,
                        labels={**(meta.get("labels") or {}), **match})
            body.update(apiVersion="v1", kind="PersistentVolumeClaim")
            body.pop("status", None)
            ok = Event(type=NORMAL, reason="SuccessfulCreate", involved=self.ref,
                       message=f"create Claim {name} Pod {pod} in StatefulSet {self.name} success")
            bad = Event(type=WARNING, reason="FailedCreate", involved=self.ref,
                        message=f"create Claim {name} for Pod {pod} in StatefulSet {self.name} "
                                f"failed error: {{error}}")
            self.b.create(ObjectRef(api_version="v1", kind="PersistentVolumeClaim", name=name,
                                    namespace=self.ref.namespace), body, on_success=[ok], on_failure=[bad])

    def create_pod(self, pod: dict[str, Any], batch: int | None) -> None:
        _, ordinal = pod_ordinal(pod)
        self.create_claims(ordinal, name_of(pod))
        ok, bad = self.event("create", name_of(pod))
        self.b.create(ObjectRef(api_version="v1", kind="Pod", name=name_of(pod), namespace=self.ref.namespace),
                      pod, batch=batch, on_success=[ok], on_failure=[bad])

    def delete_pod(self, pod: Mapping[str, Any]) -> None:
        ok, bad = self.event("delete", name_of(pod))
        self.b.delete(ObjectRef.of(pod, api_version="v1", kind="Pod"), on_success=[ok], on_failure=[bad])


# -- the sync --------------------------------------------------------------------------------


def _revision_template(rev: Mapping[str, Any]) -> dict[str, Any]:
    template = deep_copy(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def _resolve_revisions(s: _Set, revisions: Sequence[Mapping[str, Any]]) -> int | None:
    """``getStatefulSetRevisions``: the update revision from the spec, the current one from
    ``status.currentRevision`` (the update revision when there is none yet)."""
    status = s.sts.get("status") or {}
    update, collisions = sync_controller_revisions(
        s.sts, revisions, owner_ref=s.ref, template=s.spec.get("template") or {},
        collision_count=status.get("collisionCount"), builder=s.b)
    s.update_name, s.update_template = name_of(update), s.spec.get("template") or {}
    current = next((r for r in revisions if name_of(r) == status.get("currentRevision")), None)
    if current is None:
        s.current_name, s.current_template = s.update_name, s.update_template
    else:
        s.current_name, s.current_template = name_of(current), _revision_template(current)
    return collisions


def _process_replica(s: _Set, slots: list[dict[str, Any]], i: int, batch: int | None) -> bool:
    """``processReplica``: True when a monotonic sync must stop here."""
    pod = slots[i]
    name = name_of(pod)
    if _phase(pod) in ("Failed", "Succeeded"):
        if _phase(pod) == "Failed":
            s.b.event(WARNING, "RecreatingFailedPod", f"StatefulSet {s.ref.namespace}/{s.name} is "
                      f"recreating failed Pod {name}", s.ref)
        else:
            s.b.event(NORMAL, "RecreatingTerminatedPod", f"StatefulSet {s.ref.namespace}/{s.name} is "
                      f"recreating terminated Pod {name}", s.ref)
        s.delete_pod(pod)
        return True  # recreated by a later sync, once the name is free
    if not _created(pod):
        s.create_pod(pod, batch)
        return s.monotonic
    if _phase(pod) == "Pending":
        s.create_claims(pod_ordinal(pod)[1], name)
    if s.monotonic and (_terminating(pod) or not _running_ready(pod) or not s.available(pod)):
        return True
    if not s.identity_ok(pod):
        fixed = deep_copy(dict(pod))
        s._set_identity(fixed, pod_ordinal(pod)[1])
        ok, bad = s.event("update", name)
        s.b.update(ObjectRef.of(pod, api_version="v1", kind="Pod"), fixed, on_success=[ok], on_failure=[bad])
    return False


def _process_condemned(s: _Set, pod: Mapping[str, Any], first_unhealthy: Mapping[str, Any] | None) -> bool:
    if _terminating(pod):
        return s.monotonic
    if s.monotonic and pod is not first_unhealthy and (not _running_ready(pod) or not s.available(pod)):
        return True
    s.delete_pod(pod)
    return True


def _status(s: _Set, pods: Iterable[Mapping[str, Any]], collisions: int | None,
            deleted_for_update: int) -> dict[str, Any]:
    status = deep_copy(s.sts.get("status") or {})
    counts = dict(replicas=0, readyReplicas=0, availableReplicas=0, currentReplicas=0, updatedReplicas=0)
    for pod in pods:
        if not _created(pod):
            continue
        counts["replicas"] += 1
        if _running_ready(pod):
            counts["readyReplicas"] += 1
            counts["availableReplicas"] += 1 if s.available(pod) else 0
        if not _terminating(pod):
            rev = labels_of(pod).get(REVISION_HASH_LABEL)
            counts["currentReplicas"] += 1 if rev == s.current_name else 0
            counts["updatedReplicas"] += 1 if rev == s.update_name else 0
    counts["currentReplicas"] -= deleted_for_update
    status.update(counts, currentRevision=s.current_name, updateRevision=s.update_name)
    if meta_of(s.sts).get("generation") is not None:
        status["observedGeneration"] = meta_of(s.sts)["generation"]
    if collisions is not None:
        status["collisionCount"] = collisions
    if (s.strategy == "RollingUpdate" and counts["updatedReplicas"] == counts["replicas"]
            and counts["readyReplicas"] == counts["replicas"]):
        status["currentReplicas"] = counts["updatedReplicas"]  # completeRollingUpdate
        status["currentRevision"] = s.update_name
    return status


def _rolling_update(s: _Set, slots: Sequence[Mapping[str, Any]]) -> int:
    """Delete the highest-ordinal pod not at the update revision, down to the partition;
    wait while a pod in that range is unhealthy. Returns the pods deleted (0 or 1)."""
    for target in range(len(slots) - 1, s.partition - 1, -1):
        pod = slots[target]
        if not _created(pod):
            return 0
        if labels_of(pod).get(REVISION_HASH_LABEL) != s.update_name and not _terminating(pod):
            s.delete_pod(pod)
            return 1
        if not _healthy(pod):
            return 0
    return 0


def _manage(s: _Set, slots: list[dict[str, Any]], condemned: list[Mapping[str, Any]]) -> bool:
    """Replicas in ordinal order, then condemned pods from the highest ordinal; True if the
    sync stopped early (OrderedReady waiting)."""
    unhealthy = [p for p in [*slots, *condemned] if _created(p) and not _healthy(p)]
    first_unhealthy = min(unhealthy, key=lambda p: pod_ordinal(p)[1], default=None)
    batch = 0
    for i in range(len(slots)):
        if _process_replica(s, slots, i, None if s.monotonic else batch) and s.monotonic:
            return True
    for pod in condemned:
        if _process_condemned(s, pod, first_unhealthy) and s.monotonic:
            return True
    return False


def reconcile_statefulset(sts: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                          revisions: Iterable[Mapping[str, Any]] = (),
                          claims: Iterable[Mapping[str, Any]] = (), *, now: float) -> Plan:
    b = PlanBuilder()
    s = _Set(sts, claims, now, b)
    revisions = [r for r in revisions if namespace_of(r) == s.ref.namespace]
    collisions = _resolve_revisions(s, revisions)
    member = [p for p in pods if namespace_of(p) == s.ref.namespace and pod_ordinal(p)[0] == s.name]
    owned = claim_objects(sts, member, selector_from_api(s.spec.get("selector")), owner_ref=s.ref,
                          child_api_version="v1", child_kind="Pod", builder=b)
    slots: list[dict[str, Any]] = [{} for _ in range(s.replicas)]
    condemned: list[Mapping[str, Any]] = []
    for pod in owned:
        ordinal = pod_ordinal(pod)[1]
        if s.start <= ordinal < s.start + s.replicas:
            slots[ordinal - s.start] = deep_copy(dict(pod))
        elif ordinal >= 0:
            condemned.append(pod)
    condemned.sort(key=lambda p: -pod_ordinal(p)[1])
    for i, pod in enumerate(slots):
        if not pod:
            slots[i] = s.new_pod(s.start + i)
    deleted = 0
    if not meta_of(sts).get("deletionTimestamp"):
        stopped = _manage(s, slots, condemned)
        if not stopped and s.strategy == "RollingUpdate":
            deleted = _rolling_update(s, slots)
        truncate_history(revisions, owner_ref=s.ref, limit=int(s.spec.get("revisionHistoryLimit", 10)),
                         live_names={s.current_name, s.update_name}
                         | {labels_of(p).get(REVISION_HASH_LABEL, "") for p in owned},
                         builder=b)
    status = _status(s, [*slots, *condemned], collisions, deleted)
    if status != (sts.get("status") or {}):
        b.update(s.ref, {**deep_copy(dict(sts)), "status": status}, subresource="status")
    if s.min_ready and status["readyReplicas"] != status["availableReplicas"]:
        b.requeue_after(s.min_ready)
    return b.build()
