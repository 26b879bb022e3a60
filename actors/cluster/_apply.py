"""``kubectl apply`` for the Python API: client-side apply over the verbs.

What it is: manifests are YAML or JSON documents (several per text, ``---``-separated;
``kind: List`` expands to its items), read with PyYAML's safe loader. For each object, as
kubectl does: the namespace defaults to ``default`` for namespaced kinds; an absent object
is created carrying its own JSON in the ``kubectl.kubernetes.io/last-applied-configuration``
annotation; a present one gets the three-way strategic merge patch computed from that
annotation, the manifest and the live object (nothing is sent when the patch is empty).

Concurrency model: synchronous, through a ``Client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from actors.api import ApiError, bad_request, by_kind
from actors.apiserver import apply_patch, with_last_applied

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["apply_manifests", "load_manifests"]


def load_manifests(manifests: str | dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(manifests, str):
        try:
            docs = [d for d in yaml.safe_load_all(manifests) if d is not None]
        except yaml.YAMLError as e:
            raise ApiError(bad_request(f"error parsing manifests: {e}")) from None
    elif isinstance(manifests, dict):
        docs = [manifests]
    else:
        docs = list(manifests)
    out: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise ApiError(bad_request(f"a manifest must be an object, not {type(doc).__name__}"))
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            out.extend(load_manifests(list(doc.get("items") or [])))
        else:
            out.append(doc)
    return out


def _apply_one(client: Client, manifest: dict[str, Any]) -> dict[str, Any]:
    group = str(manifest.get("apiVersion") or "v1").rpartition("/")[0]
    try:
        ri = by_kind(group, str(manifest.get("kind") or ""))
    except LookupError as e:
        raise ApiError(bad_request(str(e))) from None
    meta = dict(manifest.get("metadata") or {})
    name = meta.get("name")
    if not name:
        raise ApiError(bad_request(f"error when applying a {ri.kind}: metadata.name is required"))
    namespace = None
    if ri.namespaced:
        namespace = meta.get("namespace") or "default"
        meta["namespace"] = namespace
    manifest = {**manifest, "metadata": meta}
    try:
        live = client.get(ri.resource, name, namespace)
    except ApiError as e:
        if e.code != 404:
            raise
        return client.create(with_last_applied(manifest), namespace=namespace)
    patch = apply_patch(manifest, live, ri.kind)
    if not patch:
        return live
    return client.patch(ri.resource, name, patch, namespace, type="strategic")


def apply_manifests(client: Client,
                    manifests: str | dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_apply_one(client, m) for m in load_manifests(manifests)]
