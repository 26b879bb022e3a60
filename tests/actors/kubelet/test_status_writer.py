"""The kubelet's status manager against another writer of its pods' conditions: when the
node lifecycle controller marks a pod Ready=False while a kubelet write is queued or in
flight, the kubelet must still put its own Ready=True back (cluster campaign seed 5010 left
pods Ready=False for good on a Ready node)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.kubelet._shell_status import StatusWriter


class _Log:
    def info(self, *a: Any, **k: Any) -> None:
        pass

    warning = info


class _Actor:
    name = "kubelet/node-0"
    log = _Log()

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro)


class _Client:
    """Records status patches; the first one waits until released (a write in flight)."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.release = asyncio.Event()

    async def patch(self, resource: str, name: str, body: dict[str, Any], kind: str,
                    **kw: Any) -> dict[str, Any]:
        self.patches.append(body["status"])
        if len(self.patches) == 1:
            await self.release.wait()
        return {"metadata": {"resourceVersion": str(10 * len(self.patches))}}


def _status(ready: str) -> dict[str, Any]:
    return {"phase": "Running", "conditions": [{"type": "Ready", "status": ready},
                                               {"type": "ContainersReady", "status": "True"}]}


async def _run(foreign_rv: int) -> list[dict[str, Any]]:
    client = _Client()
    w = StatusWriter(_Actor(), client)  # type: ignore[arg-type]
    w.known("u1", _status("False"))  # what the API held before: not ready yet
    w.set_status("u1", "default", "p", _status("True"))  # the kubelet: ready now
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(client.patches) == 1  # in flight; it lands at resourceVersion 10
    # The node lifecycle controller's Ready=False, seen through the informer meanwhile.
    w.reconcile("u1", _status("False"), foreign_rv)
    client.release.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not w.pending("u1")
    return client.patches


@pytest.mark.asyncio
async def test_a_foreign_not_ready_after_our_write_is_overwritten_again() -> None:
    patches = await _run(foreign_rv=11)
    assert len(patches) == 2, patches
    assert {"type": "Ready", "status": "True"} in patches[1]["conditions"]


@pytest.mark.asyncio
async def test_a_stale_view_from_before_our_write_changes_nothing() -> None:
    assert len(await _run(foreign_rv=9)) == 1
