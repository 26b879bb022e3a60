"""Strategic merge patch and the three-way merge ``kubectl apply`` computes.

What it is: ``k8s.io/apimachinery/pkg/util/strategicpatch`` over plain JSON dicts.
``strategic_merge_patch`` is what the apiserver does with
``application/strategic-merge-patch+json`` (``StrategicMergeMapPatch``: parallel lists
merged, unmatched nulls dropped); ``three_way_merge`` is ``CreateThreeWayMergePatch``
with ``overwrite=true`` (the delta from the live object to the manifest, without
deletions, merged with the deletions from the last-applied configuration to the
manifest), so client-side apply can be done here. The list merge keys and strategies
are the ``patchStrategy``/``patchMergeKey`` tags of ``k8s.io/api``, kept as a small type
graph (``_TYPES``: type -> JSON field -> Field); ``patch_meta(kind, path)`` reads it as a
table keyed by JSON path segments.

Directives: ``$patch: replace|delete`` (maps and list items), ``$retainKeys``,
``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``.

Concurrency model: none; pure functions.

Invariants: inputs are never mutated; with the same inputs the output (including list
order, which Kubernetes fixes by ``normalizeElementOrder``) is always the same.
Deviation, on purpose: items appended to a merged list lose nulls and directives when
a patch is applied (Kubernetes leaves them for the typed decoder to drop).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from actors.api import Status, bad_request

from ._patch import PatchError, json_copy, json_equal

__all__ = ["LAST_APPLIED_ANNOTATION", "StrategicMergePatchError", "apply_patch",
           "patch_meta", "strategic_merge_patch", "three_way_merge", "two_way_merge",
           "with_last_applied"]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PREFIX = "$deleteFromPrimitiveList/"
ORDER_PREFIX = "$setElementOrder/"


# --- the patch metadata of the built-in types (k8s.io/api struct tags) ---------------


class Field(NamedTuple):
    type: str | None = None  # the schema of a nested object or of each list item
    strategies: tuple[str, ...] = ()  # patchStrategy, split on ","
    key: str = ""  # patchMergeKey


_M, _MR, _R = ("merge",), ("merge", "retainKeys"), ("retainKeys",)


def _by(key: str, type_: str | None = None, strategies: tuple[str, ...] = _M) -> Field:
    return Field(type_, strategies, key)


_CONDITIONS = {"conditions": _by("type")}
_TYPES: dict[str, dict[str, Field]] = {
    "ObjectMeta": {"ownerReferences": _by("uid"), "finalizers": Field(None, _M)},
    "PodTemplateSpec": {"metadata": Field("ObjectMeta"), "spec": Field("PodSpec")},
    "PodSpec": {
        "volumes": _by("name", None, _MR),
        "initContainers": _by("name", "Container"),
        "containers": _by("name", "Container"),
        "ephemeralContainers": _by("name", "Container"),
        "imagePullSecrets": _by("name"),
        "hostAliases": _by("ip"),
        "topologySpreadConstraints": _by("topologyKey"),
        "schedulingGates": _by("name"),
        "resourceClaims": _by("name", None, _MR),
        # tolerations, readinessGates, affinity terms: no strategy, replaced whole.
    },
    "Container": {"ports": _by("containerPort"), "env": _by("name"),
                  "volumeMounts": _by("mountPath"), "volumeDevices": _by("devicePath")},
    "PodStatus": {**_CONDITIONS, "podIPs": _by("ip"), "hostIPs": _by("ip"),
                  "resourceClaimStatuses": _by("name", None, _MR)},
    "Conditions": _CONDITIONS,
    "WithTemplate": {"template": Field("PodTemplateSpec")},
    "DeploymentSpec": {"template": Field("PodTemplateSpec"), "strategy": Field(None, _R)},
    "CronJobSpec": {"jobTemplate": Field("JobTemplateSpec")},
    "JobTemplateSpec": {"metadata": Field("ObjectMeta"), "spec": Field("WithTemplate")},
    "NodeSpec": {"podCIDRs": Field(None, _M)},  # taints: no strategy, replaced whole
    "NodeStatus": {**_CONDITIONS, "addresses": _by("type")},
    "ServiceSpec": {"ports": _by("port")},
}
_WORKLOAD = {"spec": Field("WithTemplate"), "status": Field("Conditions")}
_KINDS: dict[str, dict[str, Field]] = {
    "Pod": {"spec": Field("PodSpec"), "status": Field("PodStatus")},
    "PodTemplate": {"template": Field("PodTemplateSpec")},
    "Deployment": {"spec": Field("DeploymentSpec"), "status": Field("Conditions")},
    "ReplicaSet": _WORKLOAD, "DaemonSet": _WORKLOAD, "StatefulSet": _WORKLOAD,
    "ReplicationController": _WORKLOAD, "Job": _WORKLOAD,
    "CronJob": {"spec": Field("CronJobSpec")},
    "Node": {"spec": Field("NodeSpec"), "status": Field("NodeStatus")},
    "Service": {"spec": Field("ServiceSpec"), "status": Field("Conditions")},
    "Namespace": {"status": Field("Conditions")},
    "PersistentVolumeClaim": {"status": Field("Conditions")},
    "ServiceAccount": {"secrets": _by("name")},
}
for _kind, _fields in _KINDS.items():
    _TYPES[_kind] = {"metadata": Field("ObjectMeta"), **_fields}
_TYPES["_Object"] = {"metadata": Field("ObjectMeta")}


def type_of_kind(kind: str) -> str:
    return kind if kind in _KINDS else "_Object"


def lookup(schema: str | None, key: str) -> Field:
    return _TYPES.get(schema or "", {}).get(key, Field())


class StrategicMergePatchError(ValueError):
    """An unusable strategic patch; ``code`` is the HTTP code the apiserver answers
    (400 for a malformed patch, 422 for content that contradicts the schema)."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def status(self) -> Status:
        """``interpretStrategicMergePatchError``: 400 with the message, or the generic 422."""
        if self.code == 422:
            return PatchError(self.message).status()
        return bad_request(self.message)


def _go_fmt(v: Any) -> str:
    """Go's ``%v`` for decoded JSON, as in merge-key error messages."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_fmt(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return str(v)


def _no_merge_key(m: Any, key: str) -> StrategicMergePatchError:
    return StrategicMergePatchError(
        f"map: {_go_fmt(m)} does not contain declared merge key: {key}")


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def _same(a: Any, b: Any) -> bool:
    return _jtype(a) == _jtype(b) and (a == b if not isinstance(a, dict | list)
                                       else json_equal(a, b))


def _strategy(f: Field) -> tuple[bool, str]:
    """``extractRetainKeysPatchStrategy``: (retainKeys?, the other strategy)."""
    retain = "retainKeys" in f.strategies
    rest = [s for s in f.strategies if s != "retainKeys"]
    if len(rest) > 1:
        raise StrategicMergePatchError(f"unexpected patch strategy: {f.strategies}")
    return retain, rest[0] if rest else ""


def patch_meta(kind: str, path: tuple[str, ...] | list[str]) -> tuple[tuple[str, ...], str]:
    """The (patchStrategy values, patchMergeKey) Kubernetes declares for the field at
    ``path`` of ``kind``, e.g. ``patch_meta("Deployment", ("spec", "template", "spec",
    "containers"))`` is ``(("merge",), "name")``. Unknown fields have ``((), "")``."""
    schema: str | None = type_of_kind(kind)
    f = Field()
    for seg in path:
        f = lookup(schema, seg)
        schema = f.type
    return f.strategies, f.key


# --- applying a patch (mergeMap and friends) -----------------------------------------


@dataclasses.dataclass(frozen=True)
class _Opts:
    parallel: bool  # MergeParallelList: apply the parallel directive lists
    ignore_nulls: bool  # IgnoreUnmatchedNulls: a null for a missing key is dropped


_APPLY = _Opts(parallel=True, ignore_nulls=True)
_MERGE_PATCHES = _Opts(parallel=False, ignore_nulls=False)


def _discard_nulls(v: Any) -> None:
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _discard_nulls(x)
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _remove_directives(v: Any) -> tuple[Any, bool]:
    """``removeDirectives``: a map carrying ``$patch`` disappears entirely."""
    if isinstance(v, dict):
        if DIRECTIVE in v:
            return None, False
        out = {}
        for k, x in v.items():
            nx, keep = _remove_directives(x)
            if keep:
                out[k] = nx
        return out, True
    if isinstance(v, list):
        return [nx for nx, keep in map(_remove_directives, v) if keep], True
    return v, True


def _take(pv: Any, opts: _Opts) -> tuple[Any, bool]:
    if opts.ignore_nulls:
        _discard_nulls(pv)
    return _remove_directives(pv)


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    """``handleDirectiveInMergeMap``: replace keeps the patch, delete empties the map."""
    d = patch[DIRECTIVE]
    if d == "replace":
        return {k: v for k, v in patch.items() if k != DIRECTIVE}
    if d == "delete":
        return {}
    raise StrategicMergePatchError(f"unknown patch type: {_go_fmt(d)} in map: {_go_fmt(patch)}")


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any], opts: _Opts) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not opts.parallel:
        # Merging two patches: both must carry the same list; keep one.
        if RETAIN_KEYS in original and not json_equal(original[RETAIN_KEYS], retain):
            raise StrategicMergePatchError(
                f"{_go_fmt(original[RETAIN_KEYS])} and {_go_fmt(retain)} are not deep equal: "
                "this may happen when calculating the 3-way diff patch")
        original.setdefault(RETAIN_KEYS, retain)
        return
    if not isinstance(retain, list):
        raise StrategicMergePatchError("invalid patch format of retainKeys")
    keep = set(x for x in retain if isinstance(x, str))
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_PREFIX, ORDER_PREFIX)):
            continue
        if k not in keep:
            raise StrategicMergePatchError("invalid patch format of retainKeys")
    for k in [k for k in original if k not in keep]:
        del original[k]


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: str | None,
               opts: _Opts) -> dict[str, Any]:
    """``mergeMap``: both arguments are private copies and may be consumed."""
    if DIRECTIVE in patch:
        return _map_directive(patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch, opts)
    _merge_ordered_lists(original, patch, schema, opts)
    for k, pv in list(patch.items()):
        is_delete_list = False
        if k.startswith(DELETE_PREFIX):
            if not opts.parallel:
                original[k] = pv
                continue
            k, is_delete_list = k[len(DELETE_PREFIX):], True
        if pv is None:
            original.pop(k, None)
            if opts.ignore_nulls:
                continue
        if k not in original or _jtype(original[k]) != _jtype(pv):
            if not is_delete_list:
                v, keep = _take(pv, opts)
                if keep:
                    original[k] = v
                else:
                    original.pop(k, None)
            continue
        f = lookup(schema, k)
        ov = original[k]
        if isinstance(ov, dict):
            _, strat = _strategy(f)
            original[k] = pv if strat == "replace" else _merge_map(ov, pv, f.type, opts)
        elif isinstance(ov, list):
            original[k] = _merge_slice_handler(ov, pv, f, is_delete_list, opts)
        else:
            original[k] = pv
    return original


def _merge_slice_handler(original: list[Any], patch: list[Any], f: Field,
                         is_delete_list: bool, opts: _Opts) -> list[Any]:
    _, strat = _strategy(f)
    if strat != "merge":
        return patch
    return _merge_slice(original, patch, f, opts, is_delete_list)


def _elem_kind(*lists: list[Any]) -> str:
    """``sliceElementType``: "map" or "scalar"; lists of lists are refused."""
    kinds = {_jtype(v) for lst in lists for v in lst}
    if "list" in kinds:
        raise StrategicMergePatchError("lists of lists are not supported", code=422)
    if len(kinds) > 1:
        raise StrategicMergePatchError(
            f"list element types are not identical: {_go_fmt(list(lists))}")
    return "map" if kinds == {"dict"} else "scalar"


def _merge_slice(original: list[Any], patch: list[Any], f: Field, opts: _Opts,
                 is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    kind = _elem_kind(original, patch)
    if kind == "scalar":
        if opts.parallel and is_delete_list:
            return [x for x in original if not any(_same(x, d) for d in patch)]
        merged = _dedupe(original + patch)
    else:
        if not f.key:
            raise StrategicMergePatchError(f"cannot merge lists without merge key for {f.type}")
        original, patch = _merge_special_elements(original, patch, f.key)
        merged = _merge_without_special(original, patch, f, opts)
    patch_items, server_only = _partition(merged, patch, f.key, kind)
    return _normalize_element_order(patch_items, server_only, patch, original, f.key, kind)


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in items:
        if not any(_same(x, y) for y in out):
            out.append(x)
    return out


def _find_by_key(items: list[Any], key: str, value: Any) -> int:
    for i, m in enumerate(items):
        if isinstance(m, dict) and key in m and _same(m[key], value):
            return i
    return -1


def _merge_special_elements(original: list[Any], patch: list[Any],
                            key: str) -> tuple[list[Any], list[Any]]:
    """``mergeSliceWithSpecialElements``: apply ``$patch: delete`` items; a
    ``$patch: replace`` item makes the rest of the patch the whole list."""
    plain, replace = [], False
    for v in patch:
        d = v.get(DIRECTIVE) if isinstance(v, dict) else None
        if d is None:
            plain.append(v)
        elif d == "delete":
            if key not in v:
                raise _no_merge_key(v, key)
            original = [m for m in original
                        if not (isinstance(m, dict) and key in m and _same(m[key], v[key]))]
        elif d == "replace":
            replace = True
        elif d == "merge":
            raise StrategicMergePatchError("merging lists cannot yet be specified in the patch")
        else:
            raise StrategicMergePatchError(f"unknown patch type: {_go_fmt(d)} in map: "
                                           f"{_go_fmt(v)}")
    return (plain, []) if replace else (original, plain)


def _merge_without_special(original: list[Any], patch: list[Any], f: Field,
                           opts: _Opts) -> list[Any]:
    merged = list(original)
    for v in patch:
        if f.key not in v:
            raise _no_merge_key(v, f.key)
        i = _find_by_key(merged, f.key, v[f.key])
        if i >= 0:
            merged[i] = _merge_map(merged[i], v, f.type, opts)
        elif opts.parallel:
            item, keep = _take(v, opts)
            if keep:
                merged.append(item)
        else:
            merged.append(v)
    return merged


def _partition(merged: list[Any], by: list[Any], key: str,
               kind: str) -> tuple[list[Any], list[Any]]:
    """Split merged items into those present in ``by`` (the patch) and server-only ones."""
    inp, only = [], []
    for v in merged:
        if kind == "map":
            if key not in v:
                raise _no_merge_key(v, key)
            present = _find_by_key(by, key, v[key]) >= 0
        else:
            present = any(_same(v, x) for x in by)
        (inp if present else only).append(v)
    return inp, only


def _hashable(v: Any) -> tuple[str, Any] | None:
    """A dict key equal exactly when Go's interface ``==`` is; None when uncomparable."""
    return None if isinstance(v, dict | list) else (_jtype(v), v)


def _ranker(order: list[Any], key: str, kind: str) -> Callable[[Any], int]:
    """``index(order, item)`` as a lookup table: the first position of the item (of its
    merge key value, for maps) in ``order``, or -1."""
    def value(x: Any) -> Any:
        return x.get(key) if kind == "map" and isinstance(x, dict) else x

    table: dict[tuple[str, Any], int] = {}
    for i, x in enumerate(order):
        h = _hashable(value(x))
        if h is not None:
            table.setdefault(h, i)

    def rank(x: Any) -> int:
        h = _hashable(value(x))
        return -1 if h is None else table.get(h, -1)
    return rank


def _go_stable_sort(items: list[Any], rank: Callable[[Any], int]) -> list[Any]:
    """``sort.SliceStable`` with Kubernetes' comparator, which calls any pair with an
    item absent from the order "less": exact for the usual case where every item is
    ranked, and an insertion sort (what Go runs on short lists) otherwise."""
    ranks = [rank(x) for x in items]
    if all(r >= 0 for r in ranks):
        return [x for _, x in sorted(zip(ranks, items), key=lambda p: p[0])]
    pairs = list(zip(ranks, items))
    for i in range(1, len(pairs)):
        j = i
        while j > 0 and (pairs[j][0] < pairs[j - 1][0] if pairs[j][0] >= 0
                         and pairs[j - 1][0] >= 0 else True):
            pairs[j], pairs[j - 1] = pairs[j - 1], pairs[j]
            j -= 1
    return [x for _, x in pairs]


def _normalize_slice_order(to_sort: list[Any], order: list[Any], key: str,
                           kind: str) -> list[Any]:
    """Sort by position in ``order``; ``$patch: delete`` items go last."""
    to_delete: list[Any] = []
    if kind == "map":
        for v in [*to_sort, *order]:
            if not isinstance(v, dict) or key not in v:
                raise _no_merge_key(v, key)
        to_delete = [v for v in to_sort if v.get(DIRECTIVE) == "delete"]
        to_sort = [v for v in to_sort if v.get(DIRECTIVE) != "delete"]
    return _go_stable_sort(to_sort, _ranker(order, key, kind)) + to_delete


def _merge_sorted(left: list[Any], right: list[Any], server_order: list[Any], key: str,
                  kind: str) -> list[Any]:
    """``mergeSortedSlice``: interleave server-only items (left) into patch items
    (right), a left item going first only when the live list orders it first."""
    rank = _ranker(server_order, key, kind)
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        li, ri = rank(left[i]), rank(right[j])
        if li >= 0 and ri >= 0 and li < ri:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _normalize_element_order(patch: list[Any], server_only: list[Any], patch_order: list[Any],
                             server_order: list[Any], key: str, kind: str) -> list[Any]:
    patch = _normalize_slice_order(patch, patch_order, key, kind)
    server_only = _normalize_slice_order(server_only, server_order, key, kind)
    return _merge_sorted(server_only, patch, server_order, key, kind)


def _check_order_list(patch_list: list[Any], order: list[Any], key: str) -> None:
    """``validatePatchWithSetOrderList``: patch items appear in the order list, in order."""
    items = [v for v in patch_list if not (key and isinstance(v, dict)
                                           and v.get(DIRECTIVE) == "delete")]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        a, b = items[pi], order[oi]
        if key and (not isinstance(a, dict) or not isinstance(b, dict)
                    or key not in a or key not in b):
            raise _no_merge_key(a if not (isinstance(a, dict) and key in a) else b, key)
        if (_same(a[key], b[key]) if key else _same(a, b)):
            pi += 1
        oi += 1
    if pi < len(items):
        raise StrategicMergePatchError(
            f"The order in patch list:\n{_go_fmt(patch_list)}\n doesn't match "
            f"{ORDER_PREFIX} list:\n{_go_fmt(order)}\n")


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], schema: str | None,
                         opts: _Opts) -> None:
    """``mergePatchIntoOriginal``: merge each list named by a ``$setElementOrder`` and
    order it: the directive's order, then the patch's, then the live list's."""
    for k in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(k)
        if not opts.parallel:
            if k in original and not json_equal(original[k], order):
                raise StrategicMergePatchError("invalid patch format of setElementOrder list")
            original.setdefault(k, order)
        if not isinstance(order, list):
            raise StrategicMergePatchError("invalid patch format of setElementOrder list")
        name = k[len(ORDER_PREFIX):]
        orig_list, patch_list = original.get(name), patch.get(name)
        if (orig_list is not None and not isinstance(orig_list, list)) or (
                patch_list is not None and not isinstance(patch_list, list)):
            raise StrategicMergePatchError("invalid patch format of setElementOrder list")
        f = lookup(schema, name)
        _check_order_list(patch_list or [], order, f.key)
        if orig_list is None and patch_list is None:
            continue
        if patch_list is None:
            merged = orig_list
        elif orig_list is None:
            merged = _remove_directives(patch_list)[0]
        else:
            merged = _merge_slice_handler(orig_list, patch_list, f, False, opts)
        kind = _elem_kind(orig_list or [], patch_list or [])
        patch_items, server_only = _partition(merged, order, f.key, kind)
        original[name] = _normalize_element_order(patch_items, server_only, order,
                                                  orig_list or [], f.key, kind)
        patch.pop(name, None)


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any],
                          kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of ``kind`` (``Pod``, ``Deployment``...).

    Kinds without declared strategies (custom resources) merge maps recursively and
    replace lists, as a JSON merge patch does.
    """
    if not isinstance(patch, dict):
        raise StrategicMergePatchError("invalid JSON document")
    return _merge_map(json_copy(original), json_copy(patch), type_of_kind(kind), _APPLY)


# --- computing a patch (diffMaps and friends) ----------------------------------------


@dataclasses.dataclass(frozen=True)
class _Diff:
    ignore_deletions: bool = False
    ignore_changes: bool = False  # IgnoreChangesAndAdditions
    set_order: bool = True
    retain_keys: bool = False  # BuildRetainKeysDirective


def _diff_maps(original: dict[str, Any], modified: dict[str, Any], schema: str | None,
               o: _Diff) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    retain: list[str] = []
    for key, mv in modified.items():
        if o.retain_keys and mv is not None:
            retain.append(key)
        if key not in original:
            if not o.ignore_changes:
                patch[key] = json_copy(mv)
            continue
        ov = original[key]
        if key == DIRECTIVE:
            if not (isinstance(ov, str) and isinstance(mv, str)):
                raise StrategicMergePatchError(f"invalid value for special key: {DIRECTIVE}")
            if ov != mv:
                patch[key] = mv
            continue
        if _jtype(ov) != _jtype(mv):
            if not o.ignore_changes:
                patch[key] = json_copy(mv)
            continue
        if isinstance(ov, dict):
            _diff_map_field(key, ov, mv, patch, schema, o)
        elif isinstance(ov, list):
            _diff_list_field(key, ov, mv, patch, schema, o)
        elif not o.ignore_changes and not _same(ov, mv):
            patch[key] = mv
    if not o.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    extra = any(v is not None and k not in modified for k, v in original.items())
    if retain and (patch or extra):
        patch[RETAIN_KEYS] = sorted(retain)
    return patch


def _diff_map_field(key: str, ov: dict[str, Any], mv: dict[str, Any], patch: dict[str, Any],
                    schema: str | None, o: _Diff) -> None:
    f = lookup(schema, key)
    retain, strat = _strategy(f)
    if strat == "replace":
        if not o.ignore_changes:
            patch[key] = json_copy(mv)
        return
    sub = _diff_maps(ov, mv, f.type, dataclasses.replace(o, retain_keys=retain))
    if sub:
        patch[key] = sub


def _diff_list_field(key: str, ov: list[Any], mv: list[Any], patch: dict[str, Any],
                     schema: str | None, o: _Diff) -> None:
    f = lookup(schema, key)
    retain, strat = _strategy(f)
    if strat != "merge":
        if not o.ignore_changes and not json_equal(ov, mv):
            patch[key] = json_copy(mv)
        return
    add, delete, order = _diff_lists(ov, mv, f, dataclasses.replace(o, retain_keys=retain))
    if add:
        patch[key] = add
    if delete:
        patch[DELETE_PREFIX + key] = delete
    if order:
        patch[ORDER_PREFIX + key] = order


def _diff_lists(original: list[Any], modified: list[Any], f: Field,
                o: _Diff) -> tuple[list[Any], list[Any], list[Any]]:
    if not original and not modified:
        return [], [], []
    if _elem_kind(original, modified) == "map":
        add, deletions = _diff_lists_of_maps(original, modified, f, o)
        add = _normalize_slice_order(add, modified, f.key, "map") + deletions
        order_same = [m.get(f.key) for m in original] == [m.get(f.key) for m in modified]
        order: list[Any] = []
        if o.set_order and ((not o.ignore_changes and (add or not order_same))
                            or (not o.ignore_deletions and add)):
            order = [{f.key: m[f.key]} for m in modified]
        return add, [], order
    add, delete = _diff_lists_of_scalars(original, modified, o)
    add = _normalize_slice_order(add, modified, "", "scalar")
    order = []
    if o.set_order and ((not o.ignore_deletions and delete)
                        or (not o.ignore_changes and not json_equal(original, modified))):
        order = json_copy(modified)
    return add, delete, order


def _diff_lists_of_scalars(original: list[Any], modified: list[Any],
                           o: _Diff) -> tuple[list[Any], list[Any]]:
    a, b = sorted(original, key=_go_fmt), sorted(modified, key=_go_fmt)
    i = j = 0
    add: list[Any] = []
    delete: list[Any] = []
    while i < len(a) or j < len(b):
        sa = _go_fmt(a[i]) if i < len(a) else None
        sb = _go_fmt(b[j]) if j < len(b) else None
        if sa is not None and sa == sb:
            i, j = i + 1, j + 1
        elif sa is None or (sb is not None and sa > sb):
            if not o.ignore_changes:
                add.append(b[j])
            j += 1
        else:
            if not o.ignore_deletions:
                delete.append(a[i])
            i += 1
    return add, _dedupe(delete)


def _diff_lists_of_maps(original: list[Any], modified: list[Any], f: Field,
                        o: _Diff) -> tuple[list[Any], list[Any]]:
    for m in [*original, *modified]:
        if f.key not in m:
            raise _no_merge_key(m, f.key)
    a = sorted(original, key=lambda m: _go_fmt(m[f.key]))
    b = sorted(modified, key=lambda m: _go_fmt(m[f.key]))
    i = j = 0
    patch: list[Any] = []
    deletions: list[Any] = []
    while i < len(a) or j < len(b):
        sa = _go_fmt(a[i][f.key]) if i < len(a) else None
        sb = _go_fmt(b[j][f.key]) if j < len(b) else None
        if sa is not None and sa == sb:
            sub = _diff_maps(a[i], b[j], f.type, o)
            if sub:
                sub[f.key] = b[j][f.key]
                patch.append(sub)
            i, j = i + 1, j + 1
        elif sa is None or (sb is not None and sa > sb):
            if not o.ignore_changes:
                patch.append(json_copy(b[j]))
            j += 1
        else:
            if not o.ignore_deletions:
                deletions.append({DIRECTIVE: "delete", f.key: a[i][f.key]})
            i += 1
    return patch, deletions


def two_way_merge(original: dict[str, Any], modified: dict[str, Any],
                  kind: str) -> dict[str, Any]:
    """``CreateTwoWayMergePatch``: the patch that turns ``original`` into ``modified``."""
    return _diff_maps(original, modified, type_of_kind(kind), _Diff())


def three_way_merge(original_applied: dict[str, Any] | None, modified: dict[str, Any],
                    current: dict[str, Any], kind: str) -> dict[str, Any]:
    """The patch ``kubectl apply`` sends: ``modified`` (the manifest) wins over
    ``current`` (the live object); fields that were in ``original_applied`` (the
    last-applied configuration) and are gone from the manifest are deleted; fields
    only others set are kept. ``{}`` means nothing to do."""
    schema = type_of_kind(kind)
    original = original_applied or {}
    delta = _diff_maps(current, modified, schema, _Diff(ignore_deletions=True))
    deletions = _diff_maps(original, modified, schema, _Diff(ignore_changes=True))
    return _merge_map(deletions, delta, schema, _MERGE_PATCHES)


# --- client-side apply, as kubectl does it --------------------------------------------


def _go_number(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _go_number(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_number(x) for x in v]
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)  # Go prints float64 3 as "3"
    return v


def _go_json(v: Any) -> str:
    """``json.Encoder.Encode``: sorted keys, compact, HTML-escaped, newline-terminated."""
    text = json.dumps(_go_number(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text + "\n"


def with_last_applied(manifest: dict[str, Any]) -> dict[str, Any]:
    """``GetModifiedConfiguration(annotate=true)``: the manifest carrying its own JSON
    (without that annotation, with ``annotations: {}`` if it had none) under
    ``kubectl.kubernetes.io/last-applied-configuration``. Use it to create the object."""
    obj = json_copy(manifest)
    meta = obj.setdefault("metadata", {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != LAST_APPLIED_ANNOTATION}
    meta["annotations"] = annotations
    text = _go_json(obj)
    meta["annotations"] = {**annotations, LAST_APPLIED_ANNOTATION: text}
    return obj


def apply_patch(manifest: dict[str, Any], live: dict[str, Any], kind: str) -> dict[str, Any]:
    """The strategic patch ``kubectl apply`` sends for ``manifest`` against ``live``,
    using the live object's last-applied annotation as the original ({} if none)."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    original = json.loads(raw) if raw else None
    return three_way_merge(original, with_last_applied(manifest), live, kind)
