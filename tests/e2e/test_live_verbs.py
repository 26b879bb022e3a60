"""End to end: the kubectl verbs that change and follow objects, against ``kubetwin up``.

One ``kubetwin up`` for the module, driven by the REAL kubectl (1.32) as a user types it:
``edit`` (``KUBE_EDITOR`` a sed script), ``annotate``, ``patch`` (merge, json, strategic),
``delete`` (``--grace-period=0 --force``, ``--cascade=orphan|foreground``, ``-l``),
``get -w`` on pods, ``get events --watch`` and ``describe deployment``. The fixture runs
every command once and keeps what it printed; the tests compare that with what a real
cluster prints (kubectl's own messages, the apiserver's Status messages, the
controllers' and the garbage collector's effects).

Real time, real processes: bounded waits (polls) only, 127.0.0.1 and port 0 only; the
``kubetwin up`` process and every ``kubectl … -w`` started are stopped before the fixture
returns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._live import Up, eventually

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="needs the kubectl binary")

Out = dict[str, Any]
FORCE_WARNING = ("Warning: Immediate deletion does not wait for confirmation that the running "
                 "resource has been terminated. The resource may continue to run on the "
                 "cluster indefinitely.")
CONFLICT = ('Error from server (Conflict): Operation cannot be fulfilled on deployments.apps '
            '"web": the object has been modified; please apply your changes to the latest '
            'version and try again')


def _replica_set(name: str, replicas: int) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


class Kubectl:
    """kubectl with HOME, the cache and the editor scripts under the test's tmp dir."""

    def __init__(self, tmp: Path, up: Up) -> None:
        self.tmp, self.up = tmp, up
        self.env = {**os.environ, "HOME": str(tmp)}
        self.watches: list[tuple[subprocess.Popen[bytes], Path]] = []

    def argv(self, *args: str) -> list[str]:
        return [KUBECTL or "kubectl", "--kubeconfig", str(self.up.kubeconfig), "--cache-dir",
                str(self.tmp / "kube-cache"), *args]

    def __call__(self, *args: str, editor: str | None = None) -> subprocess.CompletedProcess[str]:
        env = self.env if editor is None else {**self.env, "KUBE_EDITOR": editor}
        return subprocess.run(self.argv("--request-timeout=20s", *args), capture_output=True,
                              text=True, env=env, timeout=40, stdin=subprocess.DEVNULL,
                              check=False)

    def jsonpath(self, what: str, path: str) -> str:
        return self("get", *what.split(), "-o", f"jsonpath={path}").stdout

    def editor(self, name: str, sed: str) -> str:
        script = self.tmp / name
        script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
        script.chmod(0o755)
        return str(script)

    def watch(self, name: str, *args: str) -> Path:
        """``kubectl <args>`` in the background, its output in a file, until
        ``stop_watches``; without ``--request-timeout``, which would end it (client-go's
        HTTP client timeout covers the whole streamed body)."""
        path = self.tmp / f"{name}.out"
        with open(path, "wb") as out:
            proc = subprocess.Popen(self.argv(*args), stdout=out, stderr=subprocess.STDOUT,
                                    env=self.env, stdin=subprocess.DEVNULL)
        self.watches.append((proc, path))
        return path

    def stop_watches(self) -> list[int | None]:
        """^C each watch; what each had exited with before (None: still watching)."""
        exited = [proc.poll() for proc, _ in self.watches]
        for proc, _ in self.watches:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return exited


def _objects(k: Kubectl, out: Out) -> None:
    """Everything the verbs act on, made at once; first the pods that must be Running (the
    kubelet pulls images one at a time, as with serializeImagePulls)."""
    out["create_web"] = k("create", "deployment", "web", "--image=nginx", "--replicas=2")
    out["run_w1"] = k("run", "w1", "--image=nginx", "-l", "app=watched")
    for name, replicas in (("solo", 2), ("fg", 1)):
        (k.tmp / f"{name}.json").write_text(_replica_set(name, replicas))
        out[f"apply_{name}"] = k("apply", "-f", str(k.tmp / f"{name}.json"))
    k("create", "deployment", "gone", "--image=nginx", "--replicas=2")
    k("create", "deployment", "rk", "--image=nginx", "--replicas=1")
    k("run", "victim", "--image=nginx")
    for name, tier in (("l1", "x"), ("l2", "x"), ("l3", "y")):
        k("run", name, "--image=nginx", "-l", f"tier={tier}")


def _settle(k: Kubectl) -> None:
    def ready() -> bool:
        progressing = '{.status.conditions[?(@.type=="Progressing")].reason}'
        return (k.jsonpath("deployment web", "{.status.availableReplicas}") == "2"
                and k.jsonpath("deployment web", progressing) == "NewReplicaSetAvailable"
                and k.jsonpath("pod w1", "{.status.phase}") == "Running"
                and len(k.jsonpath("pods -l app=solo", "{.items[*].metadata.name}").split()) == 2
                and k.jsonpath("pods -l app=fg", "{.items[*].metadata.name}") != ""
                and len(k.jsonpath("pods -l app=gone", "{.items[*].metadata.name}").split()) == 2)
    assert eventually(ready, 30), k("get", "pods,rs,deploy").stdout


def _edit(k: Kubectl, out: Out) -> None:
    out["edit"] = k("edit", "deployment", "web",
                    editor=k.editor("three.sh", "s/replicas: 2/replicas: 3/"))
    out["edit_replicas"] = k.jsonpath("deployment web", "{.spec.replicas}")
    out["edit_noop"] = k("edit", "deployment", "web", editor="true")
    out["edit_invalid"] = k("edit", "deployment", "web",
                            editor=k.editor("minus.sh", "s/replicas: 3/replicas: -1/"))
    out["edit_after_invalid"] = k.jsonpath("deployment web", "{.spec.replicas}")


def _annotate(k: Kubectl, out: Out) -> None:
    def annotations() -> dict[str, str]:
        text = k.jsonpath("deployment web", "{.metadata.annotations}")
        return json.loads(text) if text else {}
    out["annotate_add"] = k("annotate", "deployment", "web", "team=blue")
    out["annotate_again"] = k("annotate", "deployment", "web", "team=red")
    out["annotate_overwrite"] = k("annotate", "deployment", "web", "team=red", "--overwrite")
    out["annotations_overwritten"] = annotations()
    out["annotate_stale"] = k("annotate", "deployment", "web", "stale=1",
                              "--resource-version=1")
    out["annotate_remove"] = k("annotate", "deployment", "web", "team-")
    out["annotations_removed"] = annotations()


def _patch(k: Kubectl, out: Out) -> None:
    out["patch_merge"] = k("patch", "deployment", "web", "--type", "merge", "-p",
                           '{"spec":{"revisionHistoryLimit":5}}')
    # "(no change)": the reply equals what kubectl read. On a ConfigMap, which no controller
    # writes between kubectl's GET and PATCH (a Deployment's status may change there).
    k("create", "configmap", "settings", "--from-literal=color=blue")
    merge = '{"data":{"color":"red"}}'
    out["patch_cm"] = k("patch", "configmap", "settings", "--type", "merge", "-p", merge)
    out["patch_cm_again"] = k("patch", "configmap", "settings", "--type", "merge", "-p", merge)
    out["patch_json"] = k("patch", "deployment", "web", "--type", "json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
          "value": "nginx:1.27"}]))
    out["patch_json_test"] = k("patch", "deployment", "web", "--type", "json", "-p",
                               '[{"op":"test","path":"/spec/replicas","value":9}]')
    out["patch_strategic"] = k("patch", "deployment", "web", "--type", "strategic", "-p",
                               json.dumps({"spec": {"template": {"spec": {"containers": [
                                   {"name": "side", "image": "busybox"}]}}}}))
    out["containers"] = k.jsonpath("deployment web", "{.spec.template.spec.containers[*].name}")
    out["images"] = k.jsonpath("deployment web", "{.spec.template.spec.containers[*].image}")
    # The strategy example of "Update API Objects in Place Using kubectl patch".
    out["patch_recreate_merge"] = k("patch", "deployment", "rk", "--type", "merge", "-p",
                                    '{"spec":{"strategy":{"type":"Recreate"}}}')
    out["patch_retain_keys"] = k("patch", "deployment", "rk", "-p",
                                 '{"spec":{"strategy":{"$retainKeys":["type"],'
                                 '"type":"Recreate"}}}')
    out["strategy"] = k.jsonpath("deployment rk", "{.spec.strategy}")


def _force_and_selector(k: Kubectl, out: Out) -> None:
    out["force"] = k("delete", "pod", "victim", "--grace-period=0", "--force")
    out["force_after"] = k("get", "pod", "victim")
    out["delete_l"] = k("delete", "pods", "-l", "tier=x")
    out["delete_l_left"] = k.jsonpath("pods -l tier", "{.items[*].metadata.name}")
    out["delete_l_none"] = k("delete", "pods", "-l", "tier=none")


def _cascades(k: Kubectl, out: Out) -> None:
    out["orphan"] = k("delete", "rs", "solo", "--cascade=orphan")
    out["orphan_rs"] = k("get", "rs", "solo")
    out["orphan_pods"] = json.loads(k("get", "pods", "-l", "app=solo", "-o", "json").stdout)
    # Foreground, made observable: the ReplicaSet's one pod holds a finalizer of ours.
    pod = k.jsonpath("pods -l app=fg", "{.items[0].metadata.name}")
    k("patch", "pod", pod, "--type", "merge", "-p",
      '{"metadata":{"finalizers":["example.com/hold"]}}')
    out["foreground"] = k("delete", "rs", "fg", "--cascade=foreground", "--wait=false")
    out["fg_pod_deleting"] = eventually(
        lambda: k.jsonpath(f"pod {pod}", "{.metadata.deletionTimestamp}"), 10)
    out["fg_rs_waiting"] = json.loads(k("get", "rs", "fg", "-o", "json").stdout or "{}")
    k("patch", "pod", pod, "--type", "json", "-p",
      '[{"op":"remove","path":"/metadata/finalizers"}]')
    out["fg_rs_gone"] = eventually(lambda: k("get", "rs", "fg").returncode == 1, 15)
    out["fg_rs_after"] = k("get", "rs", "fg")
    # kubectl waits for the Deployment to go; foreground means its pods went first.
    out["foreground_wait"] = k("delete", "deployment", "gone", "--cascade=foreground")
    out["foreground_left"] = k("get", "rs,pods", "-l", "app=gone")


def _watched_pod(k: Kubectl, out: Out, pods_w: Path, events_w: Path) -> None:
    follow_path = k.tmp / "logs-f.out"
    with open(follow_path, "wb") as f:
        follow = subprocess.Popen(k.argv("logs", "-f", "w1"), stdout=f,
                                  stderr=subprocess.STDOUT, env=k.env, stdin=subprocess.DEVNULL)
    try:
        eventually(lambda: "start worker process" in follow_path.read_text(), 15)
        out["follow_running"] = follow.poll()  # still following while the pod runs
        out["delete_w1"] = k("delete", "pod", "w1")
        # the stream ends by itself once the container has stopped
        eventually(lambda: follow.poll() is not None, 30)
        out["follow_exit"] = follow.poll()
    finally:
        if follow.poll() is None:
            follow.kill()
        follow.wait(10)
    out["follow_out"] = follow_path.read_text()
    eventually(lambda: "Terminating" in pods_w.read_text(), 15)
    eventually(lambda: re.search(r"Killing\s+pod/w1", events_w.read_text()), 15)
    out["watches_exited"] = k.stop_watches()
    out["pods_watch"] = pods_w.read_text()
    out["events_watch"] = events_w.read_text()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Out]:
    tmp = tmp_path_factory.mktemp("verbs")
    out: Out = {"started": time.monotonic()}
    up = Up(tmp, "verbs")
    k = Kubectl(tmp, up)
    phases: list[tuple[str, float]] = []  # (step, seconds since start): where time went

    def step(name: str) -> None:
        phases.append((name, round(time.monotonic() - out["started"], 1)))
    try:
        up.wait_ready()
        step("boot")
        pods_w = k.watch("pods-w", "get", "pods", "-l", "app=watched", "-w")
        events_w = k.watch("events-w", "get", "events", "--watch")
        _objects(k, out)
        _settle(k)
        step("settled")
        out["describe"] = k("describe", "deployment", "web")
        _edit(k, out)
        _annotate(k, out)
        _patch(k, out)
        _force_and_selector(k, out)
        step("verbs")
        _cascades(k, out)
        step("cascades")
        _watched_pod(k, out, pods_w, events_w)
        step("watches")
        out["seconds"], out["phases"] = time.monotonic() - out["started"], phases
        yield out
    finally:
        k.stop_watches()
        up.kill()


def _ok(result: subprocess.CompletedProcess[str], stdout: str) -> None:
    assert (result.returncode, result.stdout) == (0, stdout), result.stderr


def test_describe_deployment(session: Out) -> None:
    text = session["describe"].stdout
    lines = [re.sub(r"(?<=\S)\s{2,}", "  ", line.rstrip()) for line in text.splitlines()]
    for expected in ("Name:  web", "Namespace:  default", "Labels:  app=web",
                     "Annotations:  deployment.kubernetes.io/revision: 1", "Selector:  app=web",
                     "Replicas:  2 desired | 2 updated | 2 total | 2 available | 0 unavailable",
                     "StrategyType:  RollingUpdate", "MinReadySeconds:  0",
                     "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
                     "Pod Template:", "  Labels:  app=web", "   nginx:", "    Image:  nginx",
                     "  Type  Status  Reason", "  Available  True  MinimumReplicasAvailable",
                     "  Progressing  True  NewReplicaSetAvailable", "OldReplicaSets:  <none>"):
        assert expected in lines, text
    assert re.search(r"^NewReplicaSet:\s+web-[a-z0-9]+ \(2/2 replicas created\)$", text, re.M)
    assert re.search(r"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+"
                     r"Scaled up replica set web-[a-z0-9]+ to 2", text), text


def test_edit(session: Out) -> None:
    _ok(session["edit"], "deployment.apps/web edited\n")
    assert session["edit_replicas"] == "3"
    noop = session["edit_noop"]
    assert (noop.returncode, noop.stdout, noop.stderr) == (
        0, "", "Edit cancelled, no changes made.\n")
    invalid = session["edit_invalid"]  # 422: kubectl reopens the file, unchanged: it gives up
    assert invalid.returncode == 1
    assert 'error: deployments.apps "web" is invalid' in invalid.stderr
    assert "error: Edit cancelled, no valid changes were saved." in invalid.stderr
    assert session["edit_after_invalid"] == "3"


def test_annotate_add_overwrite_remove(session: Out) -> None:
    _ok(session["annotate_add"], "deployment.apps/web annotated\n")
    again = session["annotate_again"]
    assert again.returncode == 1 and again.stderr == (
        "error: --overwrite is false but found the following declared annotation(s): "
        "'team' already has a value (blue)\n")
    _ok(session["annotate_overwrite"], "deployment.apps/web annotated\n")
    assert session["annotations_overwritten"]["team"] == "red"
    stale = session["annotate_stale"]
    assert stale.returncode == 1 and stale.stderr.strip() == CONFLICT
    _ok(session["annotate_remove"], "deployment.apps/web annotated\n")
    assert "team" not in session["annotations_removed"]
    assert session["annotations_removed"]["deployment.kubernetes.io/revision"]


def test_patch_merge_json_strategic(session: Out) -> None:
    _ok(session["patch_merge"], "deployment.apps/web patched\n")
    _ok(session["patch_cm"], "configmap/settings patched\n")
    _ok(session["patch_cm_again"], "configmap/settings patched (no change)\n")
    _ok(session["patch_json"], "deployment.apps/web patched\n")
    failed = session["patch_json_test"]  # a failed "test" op is a generic 422
    assert failed.returncode == 1 and failed.stderr.strip() == (
        "The request is invalid: the server rejected our request due to an error in our "
        "request")
    _ok(session["patch_strategic"], "deployment.apps/web patched\n")
    # merged by name, the patch's element first (as the kubectl patch task page shows)
    assert session["containers"] == "side nginx"
    assert session["images"] == "busybox nginx:1.27"
    recreate = session["patch_recreate_merge"]
    assert recreate.returncode == 1 and recreate.stderr.strip() == (
        'The Deployment "rk" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be '
        "specified when strategy `type` is 'Recreate'")
    _ok(session["patch_retain_keys"], "deployment.apps/rk patched\n")
    assert json.loads(session["strategy"]) == {"type": "Recreate"}


def test_delete_force_and_by_label(session: Out) -> None:
    force = session["force"]
    _ok(force, 'pod "victim" force deleted\n')
    assert force.stderr.strip() == FORCE_WARNING
    assert 'Error from server (NotFound): pods "victim" not found' in \
        session["force_after"].stderr
    _ok(session["delete_l"], 'pod "l1" deleted\npod "l2" deleted\n')
    assert session["delete_l_left"] == "l3"
    none = session["delete_l_none"]
    assert (none.returncode, none.stdout, none.stderr) == (0, "No resources found\n", "")


def test_delete_cascade_orphan_keeps_the_pods(session: Out) -> None:
    _ok(session["orphan"], 'replicaset.apps "solo" deleted\n')
    assert "NotFound" in session["orphan_rs"].stderr
    pods = session["orphan_pods"]["items"]
    assert len(pods) == 2
    assert all(not p["metadata"].get("ownerReferences") for p in pods), pods
    assert all(not p["metadata"].get("deletionTimestamp") for p in pods)


def test_delete_cascade_foreground_waits_for_the_dependents(session: Out) -> None:
    _ok(session["foreground"], 'replicaset.apps "fg" deleted\n')
    assert session["fg_pod_deleting"]
    rs = session["fg_rs_waiting"]["metadata"]  # still there: its pod is not gone yet
    assert rs["deletionTimestamp"] and rs["finalizers"] == ["foregroundDeletion"]
    assert session["fg_rs_gone"], session["fg_rs_after"].stdout
    assert 'replicasets.apps "fg" not found' in session["fg_rs_after"].stderr
    _ok(session["foreground_wait"], 'deployment.apps "gone" deleted\n')
    left = session["foreground_left"]
    assert (left.stdout, left.stderr) == ("", "No resources found in default namespace.\n")


def test_get_pods_watch(session: Out) -> None:
    assert session["watches_exited"] == [None, None]  # nobody ended them but our ^C
    lines = session["pods_watch"].splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]
    assert rows and all(r[0] == "w1" and len(r) == 5 for r in rows), lines
    statuses = [r[2] for r in rows]
    assert statuses[0] == "Pending" and "Running" in statuses, statuses
    assert statuses.index("Running") < statuses.index("Terminating"), statuses
    assert set(statuses) <= {"Pending", "ContainerCreating", "Running", "Terminating",
                             "Completed"}, statuses


def test_get_events_watch(session: Out) -> None:
    text = session["events_watch"]
    lines = text.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [
        "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=4) for line in lines[1:]]
    assert ["Normal", "Scheduled", "pod/w1",
            "Successfully assigned default/w1 to minikube"] in [r[1:] for r in rows], text
    assert ["Normal", "Killing", "pod/w1", "Stopping container w1"] in [r[1:] for r in rows]
    assert any(r[2:4] == ["ScalingReplicaSet", "deployment/web"] for r in rows), text


def test_logs_follow_streams_until_the_container_stops(session: Out) -> None:
    assert session["follow_running"] is None
    assert "start worker process" in session["follow_out"]
    assert session["follow_exit"] == 0, session["follow_out"]
