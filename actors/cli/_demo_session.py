"""The state one ``kubetwin demo`` run shares between its sections, and the helpers they use.

What it is: ``Session`` holds the simulated cluster, the output (``Out``) and the facts a later
section needs from an earlier one (which kubia pods landed where). Its helpers wrap the Python
API the way the demo uses it: ``wall()`` (the cluster's wall clock, what ages are measured
against), ``wait(predicate, timeout)`` (virtual time; False instead of an exception so that a
section can print an honest note and go on), ``watch_events`` (``kubectl get events --watch``:
the list, then each event printed at the virtual instant it arrives). ``kubectl_deployment``
and ``kubectl_service`` build the objects ``kubectl create deployment`` and ``kubectl expose``
send.

Concurrency model: synchronous driver code; every call steps the simulation.

Invariants: nothing printed is made up — every line comes from an object read from the
cluster or from a request sent through its network, at the virtual time it is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.api import ApiError
from actors.cluster import Cluster
from runtime import SimulationTimeout

from ._demo_print import Out, TabWriter, table_header, table_rows

__all__ = ["Session", "kubectl_deployment", "kubectl_service"]

Obj = dict[str, Any]


@dataclass
class Session:
    cluster: Cluster
    out: Out
    facts: dict[str, Any] = field(default_factory=dict)

    def wall(self) -> float:
        """The cluster's wall clock (seconds since the epoch): what ``AGE`` is measured from."""
        return self.cluster.sim.system.wall_time()

    def wait(self, predicate: Callable[[Cluster], bool], timeout: float, *,
             poll: float = 0.25) -> bool:
        """Step until ``predicate(cluster)`` holds; False when ``timeout`` virtual seconds
        pass first (the caller says so)."""
        try:
            self.cluster.run_until(predicate, timeout=timeout, poll=poll)
        except SimulationTimeout:
            return False
        return True

    def gone(self, what: str, timeout: float) -> None:
        self.out.note(f"{what} did not happen within {timeout:g} s of virtual time "
                      f"(seed {self.cluster.seed}); what follows shows the cluster as it is")

    def pods(self, namespace: str, selector: str | None = None) -> list[Obj]:
        return list(self.cluster.list("pods", namespace, label_selector=selector)["items"])

    def running(self, namespace: str, selector: str | None = None, *, count: int = 1) -> bool:
        pods = self.pods(namespace, selector)
        return len(pods) >= count and all(
            (p.get("status") or {}).get("phase") == "Running" and
            (p.get("status") or {}).get("podIP") for p in pods)

    def watch_events(self, namespace: str, *, until: Callable[[Obj], bool], timeout: float,
                     list_first: bool = True) -> list[Obj]:
        """``kubectl get events --watch`` (``--watch-only`` without ``list_first``): print
        the events as they arrive until one satisfies ``until`` or ``timeout`` passes; then
        the ``^C`` that ends it. Returns the events printed."""
        out, tw = self.out, TabWriter()
        listed = self.cluster.list("events", namespace)
        header = table_header("events")
        printed: list[Obj] = []
        if list_first and listed["items"]:
            out.lines_of(tw.format([header, *table_rows("events", listed["items"], self.wall())]))
            printed.extend(listed["items"])
        handle = self.cluster.watch("events", namespace,
                                    resource_version=listed["metadata"]["resourceVersion"])
        deadline = self.cluster.now + timeout
        done = any(until(e) for e in printed)
        while not done and self.cluster.now < deadline:
            seen = len(handle.events)
            try:
                self.cluster.sim.run_until(lambda n=seen: len(handle.events) > n,
                                           timeout=deadline - self.cluster.now)
            except SimulationTimeout:
                break
            for ev in handle.drain():
                if ev["type"] not in ("ADDED", "MODIFIED", "DELETED"):
                    continue  # bookmarks are not printed
                obj = ev["object"]
                rows = table_rows("events", [obj], self.wall())
                out.lines_of(tw.format(rows if printed else [header, *rows]))
                printed.append(obj)
                done = done or until(obj)
        handle.stop()
        out.line("^C")
        if not done:
            self.gone("the awaited event", timeout)
        return printed

    def get_or_none(self, resource: str, name: str, namespace: str | None = "default"
                    ) -> Obj | None:
        try:
            return self.cluster.get(resource, name, namespace)
        except ApiError as e:
            if e.code == 404:
                return None
            raise


def kubectl_deployment(name: str, image: str, replicas: int = 1) -> Obj:
    """What ``kubectl create deployment NAME --image=IMAGE [--replicas=N]`` sends: label
    ``app=NAME``, one container named after the image's last path component."""
    container = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "strategy": {},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": container, "image": image,
                                                           "resources": {}}]}}}}


def kubectl_service(deployment: Obj, port: int, target_port: int) -> Obj:
    """What ``kubectl expose deployment NAME --port=P --target-port=T`` sends: the
    Deployment's labels and selector, one TCP port."""
    meta = deployment["metadata"]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": meta["name"], "labels": dict(meta.get("labels") or {})},
            "spec": {"ports": [{"port": port, "protocol": "TCP", "targetPort": target_port}],
                     "selector": dict(deployment["spec"]["selector"]["matchLabels"])}}
