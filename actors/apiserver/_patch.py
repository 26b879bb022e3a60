"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as kube-apiserver applies them.

What it is: the two schema-less patch types of ``kubectl patch --type=merge|json``.
Kubernetes applies them with the evanphx/json-patch library (v4 line); where that library
departs from the RFCs, this module follows Kubernetes, and says so:

- ``replace`` of a missing *object member* succeeds and adds it (the library's object
  ``get`` never fails); ``replace`` of a missing *array index* fails.
- Array indices may be negative (``-1`` is the last element; for ``add``, ``-1`` appends).
- ``test`` of a missing path passes when the expected value is ``null``.
- Error texts are the library's (``testing value /a failed: test failed``); the Status the
  apiserver answers with is the generic 422 ``the server rejected our request due to an
  error in our request`` (``PatchError.status()``), because the apiserver builds it with
  ``NewGenericServerResponse`` and drops the library's text.

Concurrency model: none; pure functions over JSON values (dict, list, str, int, float,
bool, None).

Invariants: inputs are never mutated; the result shares no mutable container with them.
"""

from __future__ import annotations

from typing import Any

from actors.api import ListMeta, Status, StatusDetails
from actors.api._registry import json_copy

__all__ = ["PatchError", "json_copy", "json_equal", "json_merge_patch", "json_patch"]

_REJECTED = "the server rejected our request due to an error in our request"


class PatchError(ValueError):
    """A patch that cannot be applied; ``message`` is the patch library's text."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def status(self) -> Status:
        """The Status kube-apiserver answers with: 422 Invalid (or 400 for a bad document)."""
        if self.code == 400:
            return Status(metadata=ListMeta(), status="Failure", message=self.message,
                          reason="BadRequest", code=400)
        return Status(metadata=ListMeta(), status="Failure", message=_REJECTED,
                      reason="Invalid", details=StatusDetails(), code=422)


def json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality: ``true`` is not ``1``, and ``1`` equals ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(json_equal(v, b[k]) for k, v in a.items()))
    if isinstance(a, list):
        return (isinstance(b, list) and len(a) == len(b)
                and all(json_equal(x, y) for x, y in zip(a, b)))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# --- RFC 7386 -------------------------------------------------------------------------


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 ``MergePatch``: objects merge recursively, ``null`` deletes, anything else
    (arrays included) replaces."""
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = json_copy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = json_merge_patch(result.get(name), value)
    return result


# --- RFC 6902 -------------------------------------------------------------------------


def _decode_segment(seg: str) -> str:
    # RFC 6901 section 4: ~1 first, then ~0, so "~01" decodes to "~1".
    return seg.replace("~1", "/").replace("~0", "~")


def _atoi(key: str) -> int:
    """Go's strconv.Atoi, with its error text."""
    body = key[1:] if key[:1] in "+-" else key
    if not body or not body.isascii() or not body.isdigit():
        raise PatchError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _invalid_index(idx: int) -> PatchError:
    return PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")


def _array_index(arr: list[Any], key: str) -> int:
    """Resolve an index for get/remove/replace: negative counts from the end."""
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(arr):
            raise _invalid_index(idx)
        idx += len(arr)
    if idx >= len(arr):
        raise _invalid_index(idx)
    return idx


def _find_parent(doc: Any, path: str) -> tuple[Any, str] | None:
    """``findObject``: the container holding the last segment, and that segment."""
    split = path.split("/")
    if len(split) < 2:
        return None
    node = doc
    for part in split[1:-1]:
        key = _decode_segment(part)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list):
            try:
                node = node[_array_index(node, key)]
            except PatchError:
                return None
        else:
            return None
        if not isinstance(node, dict | list):
            return None
    return node, _decode_segment(split[-1])


def _get(con: Any, key: str) -> Any:
    if isinstance(con, dict):
        return con.get(key)
    return con[_array_index(con, key)]


def _add(con: Any, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    try:
        idx = _atoi(key)
    except PatchError as e:
        raise PatchError(f"value was not a proper array index: '{key}': {e.message}") from None
    size = len(con) + 1
    if idx >= size or idx < -size:
        raise _invalid_index(idx)
    con.insert(idx + size if idx < 0 else idx, value)


def _remove(con: Any, key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise PatchError(f"Unable to remove nonexistent key: {key}: missing value")
        del con[key]
        return
    del con[_array_index(con, key)]


def _require(op: dict[str, Any], field: str, name: str, what: str) -> str:
    value = op.get(field)
    if not isinstance(value, str):
        raise PatchError(f"{name} operation failed to decode {what}: missing value")
    return value


def _locate(doc: Any, path: str, message: str) -> tuple[Any, str]:
    found = _find_parent(doc, path)
    if found is None:
        raise PatchError(f"{message}: missing value")
    return found


def _op_add(doc: Any, op: dict[str, Any]) -> None:
    path = _require(op, "path", "add", "path")
    con, key = _locate(doc, path, f'add operation does not apply: doc is missing path: "{path}"')
    try:
        _add(con, key, json_copy(op.get("value")))
    except PatchError as e:
        raise PatchError(f"error in add for path: '{path}': {e.message}") from None


def _op_remove(doc: Any, op: dict[str, Any]) -> None:
    path = _require(op, "path", "remove", "path")
    con, key = _locate(doc, path,
                       f'remove operation does not apply: doc is missing path: "{path}"')
    try:
        _remove(con, key)
    except PatchError as e:
        raise PatchError(f"error in remove for path: '{path}': {e.message}") from None


def _op_replace(doc: Any, op: dict[str, Any]) -> None:
    path = _require(op, "path", "replace", "path")
    con, key = _locate(doc, path, f"replace operation does not apply: doc is missing path: {path}")
    if isinstance(con, dict):
        con[key] = json_copy(op.get("value"))
        return
    try:
        idx = _array_index(con, key)
    except PatchError:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path}: "
                         "missing value") from None
    con[idx] = json_copy(op.get("value"))


def _op_move(doc: Any, op: dict[str, Any]) -> None:
    frm = _require(op, "from", "move", "from")
    con, key = _locate(doc, frm, f"move operation does not apply: doc is missing from path: {frm}")
    try:
        value = _get(con, key)
        _remove(con, key)
    except PatchError as e:
        raise PatchError(f"error in move for path: '{key}': {e.message}") from None
    path = _require(op, "path", "move", "path")
    con, key = _locate(doc, path,
                       f"move operation does not apply: doc is missing destination path: {path}")
    try:
        _add(con, key, value)
    except PatchError as e:
        raise PatchError(f"error in move for path: '{path}': {e.message}") from None


def _op_copy(doc: Any, op: dict[str, Any]) -> None:
    frm = _require(op, "from", "copy", "from")
    con, key = _locate(doc, frm, f"copy operation does not apply: doc is missing from path: {frm}")
    try:
        value = _get(con, key)
    except PatchError as e:
        raise PatchError(f"error in copy for from: '{frm}': {e.message}") from None
    path = _require(op, "path", "copy", "path")
    con, key = _locate(doc, path,
                       f"copy operation does not apply: doc is missing destination path: {path}")
    try:
        _add(con, key, json_copy(value))
    except PatchError as e:
        raise PatchError(f"error while adding value during copy: {e.message}") from None


def _op_test(doc: Any, op: dict[str, Any]) -> None:
    path = _require(op, "path", "test", "path")
    con, key = _locate(doc, path, f"test operation does not apply: is missing path: {path}")
    try:
        value = _get(con, key)
    except PatchError as e:
        raise PatchError(f"error in test for path: '{path}': {e.message}") from None
    expected = op.get("value")
    missing_ok = value is None and expected is None
    if not missing_ok and ("value" not in op or not json_equal(value, expected)):
        raise PatchError(f"testing value {path} failed: test failed")


_OPS = {"add": _op_add, "remove": _op_remove, "replace": _op_replace, "move": _op_move,
        "copy": _op_copy, "test": _op_test}


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply an RFC 6902 patch; raises ``PatchError`` on the first failing operation.

    Operations apply in order to a working copy; a failure leaves ``target`` untouched.
    """
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch",
                         code=400)
    doc = json_copy(target)
    for op in ops:
        kind = op.get("op")
        handler = _OPS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise PatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
        handler(doc, op)
    return doc
