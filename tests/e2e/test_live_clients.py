"""End to end: ``kubetwin up`` driven by the official Python client and a kopf operator.

One ``kubetwin up`` (one etcd member) for the module, waited for by its kubeconfig; the
``kubernetes`` package loads that kubeconfig as a user's program does
(``config.load_kube_config(config_file=…)``) and lists, creates, reads, watches, patches
and deletes through its typed APIs, whose pydantic models reject an object missing a field
the OpenAPI marks required; its ``ApiException`` carries our ``Status`` bodies. Then a kopf
operator (a file in the tmp dir, ``python -m kopf run --standalone``) reacts to labelled
ConfigMaps: it derives a ConfigMap, annotates the source, posts an Event, follows updates,
and on deletion cleans up and releases its finalizer — kopf's watch with resourceVersion,
merge patches of annotations and finalizers, and Event posting against the live API.

Real time, real processes: bounded waits (polls, watch timeouts) only, 127.0.0.1 and port
0 only; the cluster and the operator are stopped (killed if they must be) before the
fixtures return. Skipped when ``kubernetes`` or ``kopf`` is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._live import Up, eventually

pytest.importorskip("kubernetes")
pytest.importorskip("kopf")

from kubernetes import client, config, watch

NS = "default"


class Cluster:
    """The running ``kubetwin up`` and the client APIs built from its kubeconfig."""

    def __init__(self, tmp: Path, up: Up) -> None:
        self.tmp = tmp
        self.up = up
        config.load_kube_config(config_file=str(up.kubeconfig))
        self.core = client.CoreV1Api()
        self.apps = client.AppsV1Api()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("clients")
    up = Up(tmp, "clients", "--etcd-members", "1")
    try:
        up.wait_ready()
        yield Cluster(tmp, up)
        assert up.stop() == 0, up.stderr
    finally:
        up.kill()


def _deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web",
                                                                     image="nginx")]))))


def _status_body(e: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(e.body)
    return body


def _raw(response: Any) -> dict[str, Any]:
    """A delete's body, decoded here: the client's declared type for it (V1Status, or a
    plain object) changed across its versions; the server sends the object or a Status."""
    body: dict[str, Any] = json.loads(response.data)
    return body


def _gone(read: Any) -> bool:
    try:
        read()
    except client.ApiException as e:
        return bool(e.status == 404)
    return False


# -- the official client -------------------------------------------------------------------

def test_lists_namespaces_nodes_pods_and_discovery(cluster: Cluster) -> None:
    namespaces = {n.metadata.name for n in cluster.core.list_namespace().items}
    assert {"default", "kube-node-lease", "kube-public", "kube-system"} <= namespaces
    nodes = cluster.core.list_node().items  # every required NodeSystemInfo field is there
    assert [n.metadata.name for n in nodes] == ["minikube"]
    info = nodes[0].status.node_info
    assert info.kubelet_version.startswith("v1.") and info.kube_proxy_version == ""
    pods = cluster.core.list_pod_for_all_namespaces()
    assert any(p.metadata.namespace == "kube-system" for p in pods.items)
    assert int(pods.metadata.resource_version) > 0
    assert client.VersionApi().get_code().git_version.startswith("v1.")  # GET /version/
    assert client.CoreApi().get_api_versions().versions == ["v1"]  # GET /api/
    groups = {g.name for g in client.ApisApi().get_api_versions().groups}  # GET /apis/
    assert {"apps", "batch", "coordination.k8s.io"} <= groups


def test_create_and_read_back_configmap_and_deployment(cluster: Cluster) -> None:
    cm = cluster.core.create_namespaced_config_map(NS, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"tier": "web"}),
        data={"color": "blue"}))
    assert cm.metadata.uid and cm.metadata.resource_version
    read = cluster.core.read_namespaced_config_map("settings", NS)
    assert read.data == {"color": "blue"} and read.metadata.uid == cm.metadata.uid
    listed = cluster.core.list_namespaced_config_map(NS, label_selector="tier=web")
    assert [c.metadata.name for c in listed.items] == ["settings"]
    made = cluster.apps.create_namespaced_deployment(NS, _deployment("shop", 1))
    assert made.spec.strategy.type == "RollingUpdate"  # defaulted by the apiserver
    got = cluster.apps.read_namespaced_deployment("shop", NS)
    assert got.metadata.uid == made.metadata.uid and got.spec.replicas == 1
    assert got.spec.template.spec.containers[0].image == "nginx"


def test_watch_sees_the_deployments_pods_added_then_modified(cluster: Cluster) -> None:
    since = cluster.core.list_namespaced_pod(NS).metadata.resource_version
    cluster.apps.create_namespaced_deployment(NS, _deployment("watched", 2))
    seen: dict[str, list[tuple[str, str]]] = {}
    w = watch.Watch()
    for event in w.stream(cluster.core.list_namespaced_pod, NS, label_selector="app=watched",
                          resource_version=since, timeout_seconds=20, _request_timeout=30):
        pod = event["object"]
        seen.setdefault(pod.metadata.name, []).append((event["type"], pod.status.phase))
        running = [n for n, evs in seen.items() if evs[-1] == ("MODIFIED", "Running")]
        if len(running) == 2:
            w.stop()
    assert len(seen) == 2, seen
    for name, events in seen.items():
        assert name.startswith("watched-"), name
        assert events[0] == ("ADDED", "Pending"), events
        assert events[-1] == ("MODIFIED", "Running"), events


def test_strategic_merge_patch_and_delete_with_propagation(cluster: Cluster) -> None:
    apps = cluster.apps
    apps.create_namespaced_deployment(NS, _deployment("patched", 1))
    # A dict body goes as a strategic merge patch: containers merge by name.
    out = apps.patch_namespaced_deployment("patched", NS, {
        "metadata": {"labels": {"team": "a"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "busybox"}, {"name": "web", "image": "nginx:1.27"}]}}}})
    assert out.spec.replicas == 2 and out.metadata.labels == {"team": "a"}
    images = {c.name: c.image for c in out.spec.template.spec.containers}
    assert images == {"web": "nginx:1.27", "sidecar": "busybox"}
    out = apps.patch_namespaced_deployment("patched", NS, [
        {"op": "replace", "path": "/spec/replicas", "value": 1}])  # a list: JSON patch
    assert out.spec.replicas == 1
    eventually(lambda: apps.list_namespaced_replica_set(NS, label_selector="app=patched").items,
               15)
    gone = _raw(apps.delete_namespaced_deployment("patched", NS, propagation_policy="Foreground",
                                                  _preload_content=False))
    meta = gone["metadata"]  # the object, not a Status: a foreground deletion waits
    assert meta["deletionTimestamp"] and "foregroundDeletion" in meta["finalizers"]
    assert eventually(lambda: _gone(lambda: apps.read_namespaced_deployment("patched", NS)), 20)
    assert not apps.list_namespaced_replica_set(NS, label_selector="app=patched").items
    cluster.core.create_namespaced_config_map(NS, {"metadata": {"name": "short-lived"}})
    status = _raw(cluster.core.delete_namespaced_config_map(
        "short-lived", NS, propagation_policy="Background", _preload_content=False))
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "short-lived"


def test_errors_are_decoded_from_status_bodies(cluster: Cluster) -> None:
    core = cluster.core
    with pytest.raises(client.ApiException) as missing:
        cluster.apps.read_namespaced_deployment("nope", NS)
    body = _status_body(missing.value)
    assert missing.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    core.create_namespaced_config_map(NS, {"metadata": {"name": "twice"}})
    with pytest.raises(client.ApiException) as twice:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "twice"}})
    assert twice.value.status == 409 and _status_body(twice.value)["reason"] == "AlreadyExists"
    with pytest.raises(client.ApiException) as stale:
        core.replace_namespaced_config_map("twice", NS, {"metadata": {
            "name": "twice", "resourceVersion": "1"}})
    assert stale.value.status == 409 and _status_body(stale.value)["reason"] == "Conflict"
    with pytest.raises(client.ApiException) as invalid:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "Not_A_Name"}})
    assert invalid.value.status == 422 and _status_body(invalid.value)["reason"] == "Invalid"
    with pytest.raises(client.ApiException) as expired:  # the ERROR event of the watch
        for _ in watch.Watch().stream(core.list_namespaced_config_map, NS,
                                      resource_version="1", timeout_seconds=5):
            pass
    assert expired.value.status == 410


def test_unknown_fields_come_back_as_a_warning_header(cluster: Cluster) -> None:
    core = cluster.core
    core.create_namespaced_config_map(NS, {"metadata": {"name": "warned"}})
    # kopf's patches carry a status, which a ConfigMap has not: dropped, with a warning.
    data, code, headers = core.patch_namespaced_config_map_with_http_info(
        "warned", NS, {"metadata": {"annotations": {"a": "b"}}, "status": {"x": 1}},
        _content_type="application/merge-patch+json")
    assert code == 200 and data.metadata.annotations == {"a": "b"}
    assert headers["Warning"] == '299 - "unknown field \\"status\\""'


# -- a kopf operator -----------------------------------------------------------------------

OPERATOR = '''
import kopf
import kubernetes

LABEL = {"kubetwin.test/derive": "yes"}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.watching.server_timeout = 2  # ends the watch often: kopf lists and watches again
    settings.persistence.finalizer = "kubetwin.test/cleanup"


def core():
    kubernetes.config.load_kube_config()  # KUBECONFIG
    return kubernetes.client.CoreV1Api()


@kopf.on.create("configmaps", labels=LABEL)
def derive(name, namespace, body, patch, **_):
    core().create_namespaced_config_map(namespace, {
        "metadata": {"name": f"{name}-derived"}, "data": {"copy": body["data"]["a"]}})
    patch.metadata.annotations["kubetwin.test/derived"] = f"{name}-derived"
    kopf.info(body, reason="Derived", message=f"made {name}-derived")


@kopf.on.update("configmaps", labels=LABEL, field="data")
def follow(name, namespace, new, **_):
    core().patch_namespaced_config_map(f"{name}-derived", namespace,
                                       {"data": {"copy": new["a"]}})


@kopf.on.delete("configmaps", labels=LABEL)
def clean_up(name, namespace, **_):
    core().delete_namespaced_config_map(f"{name}-derived", namespace)
'''


class Operator:
    """``python -m kopf run op.py --standalone --namespace default``, output to a file."""

    def __init__(self, cluster: Cluster) -> None:
        script = cluster.tmp / "op.py"
        script.write_text(textwrap.dedent(OPERATOR))
        self.log_path = cluster.tmp / "op.log"
        env = {**os.environ, "KUBECONFIG": str(cluster.up.kubeconfig)}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kopf", "run", str(script), "--standalone",
                 "--namespace", NS, "--verbose"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=cluster.tmp)

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail(f"the kopf operator did not stop within 15 s:\n{self.log}")


def _read(core: Any, name: str) -> Any:
    try:
        return core.read_namespaced_config_map(name, NS)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise


def _annotated(core: Any, name: str) -> Any:
    obj = _read(core, name)
    return obj if obj and "kubetwin.test/derived" in (obj.metadata.annotations or {}) else None


def _kopf_scenario(cluster: Cluster, op: Operator) -> dict[str, Any]:
    core, out = cluster.core, {}
    core.create_namespaced_config_map(NS, {"metadata": {
        "name": "source", "labels": {"kubetwin.test/derive": "yes"}}, "data": {"a": "1"}})
    out["derived"] = eventually(lambda: _read(core, "source-derived"), 20)
    out["source"] = eventually(lambda: _annotated(core, "source"), 10)
    out["events"] = eventually(lambda: core.list_namespaced_event(
        NS, field_selector="involvedObject.name=source").items, 10)
    core.patch_namespaced_config_map("source", NS, {"data": {"a": "2"}})
    out["followed"] = eventually(lambda: (_read(core, "source-derived").data or {})
                                 .get("copy") == "2", 15)
    out["deleting"] = _raw(core.delete_namespaced_config_map("source", NS,
                                                             _preload_content=False))
    out["source_gone"] = eventually(lambda: _read(core, "source") is None, 15)
    out["derived_gone"] = _read(core, "source-derived") is None
    return out


def test_kopf_operator_derives_follows_and_cleans_up(cluster: Cluster) -> None:
    op = Operator(cluster)
    try:
        out = _kopf_scenario(cluster, op)
    finally:
        rc = op.stop()
    log = op.log
    assert out["derived"] is not None, log
    assert out["derived"].data == {"copy": "1"}
    source = out["source"]
    assert source, log
    assert source.metadata.annotations["kubetwin.test/derived"] == "source-derived"
    assert "kopf.zalando.org/last-handled-configuration" in source.metadata.annotations
    assert source.metadata.finalizers == ["kubetwin.test/cleanup"]  # merge-patched in
    assert [(e.reason, e.message) for e in out["events"]] == \
        [("Derived", "made source-derived")], log
    assert out["events"][0].source.component == "kopf"
    assert out["followed"], log
    assert out["deleting"]["metadata"]["deletionTimestamp"]  # held by kopf's finalizer
    assert out["source_gone"] and out["derived_gone"], log
    assert rc == 0, log
    assert "Traceback" not in log and "[ERROR" not in log, log
    assert "Failed to post an event" not in log, log
