"""The ServiceAccount controller (``pkg/controller/serviceaccount``) and the root CA
publisher (``pkg/controller/certificates/rootcacertpublisher``).

What it is: ``reconcile_service_accounts(namespace, service_accounts, *, now)`` creates the
``default`` ServiceAccount in every active namespace that lacks it;
``reconcile_root_ca_configmap(namespace, configmaps, *, ca_crt, now)`` keeps the
``kube-root-ca.crt`` ConfigMap (data ``ca.crt``) in every active namespace.

Concurrency model: none; pure functions.

Invariants: a namespace that is not Active (Terminating, or being deleted) gets nothing
new; existing objects are only rewritten when their content differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._plan import ObjectRef, Plan, PlanBuilder, deep_copy, meta_of, name_of, namespace_of

__all__ = ["reconcile_root_ca_configmap", "reconcile_service_accounts"]

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters.")


def _active(namespace: Mapping[str, Any]) -> bool:
    phase = (namespace.get("status") or {}).get("phase") or "Active"
    return phase == "Active" and not meta_of(namespace).get("deletionTimestamp")


def reconcile_service_accounts(namespace: Mapping[str, Any], service_accounts: Iterable[Mapping[str, Any]],
                               *, now: float, names: Iterable[str] = ("default",)) -> Plan:
    """``syncNamespace``: each of ``names`` exists in an active namespace."""
    b = PlanBuilder()
    if not _active(namespace):
        return b.build()
    ns = name_of(namespace)
    present = {name_of(sa) for sa in service_accounts if namespace_of(sa) == ns}
    for name in names:
        if name not in present:
            b.create(ObjectRef(api_version="v1", kind="ServiceAccount", name=name, namespace=ns),
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}})
    return b.build()


def reconcile_root_ca_configmap(namespace: Mapping[str, Any], configmaps: Iterable[Mapping[str, Any]], *,
                                ca_crt: str, now: float) -> Plan:
    b = PlanBuilder()
    if not _active(namespace):
        return b.build()
    ns = name_of(namespace)
    ref = ObjectRef(api_version="v1", kind="ConfigMap", name=ROOT_CA_CONFIGMAP, namespace=ns)
    current = next((c for c in configmaps if namespace_of(c) == ns and name_of(c) == ROOT_CA_CONFIGMAP), None)
    data = {"ca.crt": ca_crt}
    annotations = {"kubernetes.io/description": ROOT_CA_DESCRIPTION}
    if current is None:
        b.create(ref, {"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": ns, "annotations": annotations},
                       "data": data})
        return b.build()
    have = dict(meta_of(current).get("annotations") or {})
    if current.get("data") == data and have.get("kubernetes.io/description") == ROOT_CA_DESCRIPTION:
        return b.build()
    body = deep_copy(dict(current))
    body["data"] = data
    body.setdefault("metadata", {})["annotations"] = {**have, **annotations}
    b.update(ObjectRef.of(current, api_version="v1", kind="ConfigMap"), body)
    return b.build()
