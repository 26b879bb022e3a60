"""End to end: Debian's kubectl 1.20 (package kubernetes-client) against ``kubetwin up``.

The seed's commands as an old client types them. What differs from kubectl 1.32 on the
wire: legacy discovery only, JSON bodies everywhere, and ``create -f``/``apply -f``
validate against ``/openapi/v2`` fetched as gnostic protobuf (no ``--validate=false``
here), which also gives ``apply`` its strategic-merge keys and ``explain`` its fields.

The binary is optional: ``$KUBECTL_120`` (``.ci/run`` unpacks the Debian package into a
cache directory and sets it) or ``kubectl1.20`` on PATH; the module is skipped without
one. One ``kubetwin up`` for the module; real time, bounded polls, port 0, the process
stopped before the fixture returns.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._live import Kubectl, Up, eventually


def _kubectl_120() -> str | None:
    path = os.environ.get("KUBECTL_120") or shutil.which("kubectl1.20")
    if not path or not os.access(path, os.X_OK):
        return None
    version = subprocess.run([path, "version", "--client"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
    return path if 'Minor:"20"' in version else None


KUBECTL = _kubectl_120()
pytestmark = pytest.mark.skipif(KUBECTL is None,
                                reason="needs kubectl 1.20 ($KUBECTL_120 or kubectl1.20)")

Out = dict[str, Any]
SYSTEM_PODS = {"etcd-minikube", "kube-apiserver-minikube", "kube-controller-manager-minikube",
               "kube-scheduler-minikube", "kube-addon-manager-minikube", "storage-provisioner"}


def _deployment(name: str, *, image: str, replicas: int, field: str = "replicas") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  {field}: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports:
        - containerPort: 80
"""


def _rows(text: str) -> dict[str, list[str]]:
    rows = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    return {r[0]: r for r in rows[1:]}


def _seed(k: Kubectl, out: Out) -> None:
    def healthy() -> subprocess.CompletedProcess[str] | None:
        cs = k("get", "componentstatus")
        return cs if all(r[1] == "Healthy" for r in _rows(cs.stdout).values()) else None
    out["cs"] = eventually(healthy, 20) or k("get", "componentstatus")
    custom = ("get", "pods", "-n", "kube-system", "-o",
              "custom-columns=POD:metadata.name,NODE:spec.nodeName", "--sort-by",
              "spec.nodeName")

    def placed() -> subprocess.CompletedProcess[str] | None:
        pods = k(*custom)
        rows = _rows(pods.stdout)
        return pods if SYSTEM_PODS <= set(rows) and all(
            r[1] == "minikube" for r in rows.values()) else None
    out["system_pods"] = eventually(placed, 20) or k(*custom)
    out["run"] = k("run", "nginx", "--image=nginx")

    def scheduled() -> subprocess.CompletedProcess[str] | None:
        events = k("get", "events")
        return events if re.search(r"Scheduled\s+pod/nginx", events.stdout) else None
    out["events"] = eventually(scheduled, 20) or k("get", "events")


def _manifests(k: Kubectl, out: Out) -> None:
    first = k.manifest("old.yaml", _deployment("old", image="nginx:1.25", replicas=2))
    second = k.manifest("old2.yaml", _deployment("old", image="nginx:1.27", replicas=3))
    typo = k.manifest("typo.yaml", _deployment("old", image="nginx", replicas=2,
                                               field="replicaz"))
    out["create_f"] = k("create", "-f", first)
    out["apply_created"] = k("apply", "-f", second)
    out["apply_same"] = k("apply", "-f", second)
    out["applied"] = k("get", "deployment", "old", "-o",
                       "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].image}")
    out["apply_typo"] = k("apply", "-f", typo)
    out["apply_new"] = k("apply", "-f", k.manifest(
        "fresh.yaml", _deployment("fresh", image="nginx", replicas=1)))
    out["explain"] = k("explain", "deployment.spec.replicas")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Out]:
    tmp = tmp_path_factory.mktemp("kubectl120")
    out: Out = {"started": time.monotonic()}
    up = Up(tmp, "kubectl120")
    try:
        up.wait_ready()
        k = Kubectl(tmp, up, KUBECTL or "kubectl")
        out["version"] = k("version")
        _seed(k, out)
        _manifests(k, out)
        out["seconds"] = time.monotonic() - out["started"]
        yield out
    finally:
        up.kill()


def test_version_and_componentstatus(session: Out) -> None:
    version = session["version"].stdout
    assert 'Client Version: version.Info{Major:"1", Minor:"20"' in version
    assert 'Server Version: version.Info{Major:"1", Minor:"32"' in version
    cs = session["cs"]
    assert cs.returncode == 0, cs.stderr
    assert cs.stdout.split("\n", 1)[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    rows = _rows(cs.stdout)
    assert list(rows)[:3] == ["controller-manager", "scheduler", "etcd-0"]
    assert rows["etcd-0"][1:] == ["Healthy", '{"health":"true"}'], cs.stdout
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in cs.stderr


def test_system_pods_custom_columns_sorted_by_node(session: Out) -> None:
    pods = session["system_pods"]
    assert pods.returncode == 0, pods.stderr
    lines = pods.stdout.splitlines()
    assert lines[0].split() == ["POD", "NODE"]
    rows = _rows(pods.stdout)
    assert SYSTEM_PODS <= set(rows), pods.stdout
    assert {r[1] for r in rows.values()} == {"minikube"}, pods.stdout


def test_run_and_events(session: Out) -> None:
    assert session["run"].stdout == "pod/nginx created\n", session["run"].stderr
    events = session["events"].stdout
    assert re.split(r"\s{2,}", events.splitlines()[0].strip()) == [
        "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert re.search(r"Normal\s+Scheduled\s+pod/nginx\s+Successfully assigned default/nginx "
                     r"to minikube", events), events


def test_create_and_apply_validate_against_the_protobuf_openapi(session: Out) -> None:
    assert session["create_f"].stdout == "deployment.apps/old created\n", \
        session["create_f"].stderr
    configured = session["apply_created"]
    assert configured.stdout == "deployment.apps/old configured\n", configured.stderr
    assert "missing the kubectl.kubernetes.io/last-applied-configuration annotation" in \
        configured.stderr  # made by create, then applied: the annotation is patched in
    assert session["apply_same"].stdout == "deployment.apps/old unchanged\n"
    assert session["applied"].stdout == "3 nginx:1.27"
    typo = session["apply_typo"]
    assert typo.returncode == 1
    assert ('error validating data: ValidationError(Deployment.spec): unknown field '
            '"replicaz" in io.k8s.api.apps.v1.DeploymentSpec') in typo.stderr
    assert session["apply_new"].stdout == "deployment.apps/fresh created\n"
    explain = session["explain"]
    assert explain.returncode == 0, explain.stderr
    assert re.search(r"^FIELD:\s+replicas <integer>$", explain.stdout, re.M), explain.stdout


def test_the_module_stays_quick(session: Out) -> None:
    assert session["seconds"] < 40, session["seconds"]
