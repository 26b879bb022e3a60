"""``kubectl logs`` on the node: a container's output from the container runtime, with the
kubelet's answers for a missing container or one not started yet. Shared by the kubelet
actor (which the apiserver's pods/log subresource asks) and the Python API's ``logs``.

Concurrency model: none; reads the runtime the caller owns."""

from __future__ import annotations

from typing import Any

from actors.api import ApiError

from ._runtime import ContainerRuntime

__all__ = ["container_logs"]


def _bad(message: str) -> ApiError:
    from actors.api import Status

    return ApiError(Status(status="Failure", message=message, reason="BadRequest", code=400))


def container_logs(runtime: ContainerRuntime | None, pod: dict[str, Any], container: str | None, *,
                   previous: bool = False, timestamps: bool = False,
                   tail_lines: int | None = None) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    name = meta.get("name", "")
    names = [c["name"] for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]]
    if container is None:
        regular = [c["name"] for c in spec.get("containers") or []]
        if len(regular) != 1:
            raise _bad(f"a container name must be specified for pod {name}, "
                       f"choose one of: [{' '.join(regular)}]")
        container = regular[0]
    if container not in names:
        raise _bad(f"container {container} is not valid for pod {name}")
    runs = runtime.list_containers(pod_uid=meta.get("uid"), name=container) if runtime is not None else []
    pick = runs[1:2] if previous else runs[:1]
    if not pick or runtime is None:
        if previous:
            raise _bad(f'previous terminated container "{container}" in pod "{name}" not found')
        raise _bad(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    lines = list(runtime.logs(pick[0].id, timestamps=timestamps))
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    return "".join(f"{line}\n" for line in lines)
