"""kube-apiserver's pure parts: patches, authentication, RBAC, admission, the watch cache
and request parsing. No actors, no clock (time is passed in), no I/O; the apiserver actor
is built on them. Objects are plain dicts in Kubernetes JSON form throughout.
"""

from ._patch import PatchError, json_copy, json_equal, json_merge_patch, json_patch
from ._strategic import (
    LAST_APPLIED_ANNOTATION,
    StrategicMergePatchError,
    apply_patch,
    patch_meta,
    strategic_merge_patch,
    three_way_merge,
    with_last_applied,
)

__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "PatchError",
    "StrategicMergePatchError",
    "apply_patch",
    "json_copy",
    "json_equal",
    "json_merge_patch",
    "json_patch",
    "patch_meta",
    "strategic_merge_patch",
    "three_way_merge",
    "with_last_applied",
]
