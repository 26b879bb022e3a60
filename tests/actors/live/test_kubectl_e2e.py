"""End to end: ``serve`` on 127.0.0.1 port 0 over TLS, in a live ActorSystem, with the
test-only apiserver double, driven by the REAL kubectl as a subprocess."""

from __future__ import annotations

import functools
import json
import os
import shutil
import ssl
import subprocess

import anyio
import pytest
import yaml

from actors.live import ensure_credentials, serve
from runtime import live_system
from tests.actors.live._double import ApiserverDouble

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

SEED = [
    {"kind": "Pod", "apiVersion": "v1",
     "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
     "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]},
     "status": {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}],
                "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0,
                                       "state": {"running": {}}}]}},
    {"kind": "ComponentStatus", "apiVersion": "v1", "metadata": {"name": "etcd-0"},
     "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]},
]


class Kubectl:
    def __init__(self, tmp: str, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "HOME": tmp, "KUBECONFIG": kubeconfig}
        self.cache = os.path.join(tmp, "kube-cache")

    def argv(self, *args: str) -> list[str]:
        return [KUBECTL or "kubectl", "--kubeconfig", self.kubeconfig,
                "--cache-dir", self.cache, "--request-timeout=20s", *args]

    async def __call__(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        with anyio.fail_after(30):
            return await anyio.run_process(self.argv(*args), check=False, env=self.env,
                                           stdin=subprocess.DEVNULL)


def _rows(out: bytes) -> list[list[str]]:
    """kubectl's table output split into cells (two or more spaces separate columns)."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in out.decode().splitlines() if line]


async def _read_until(stream, text: str, buf: bytearray) -> None:
    with anyio.fail_after(20):
        while text.encode() not in buf:
            buf.extend(await stream.receive())


async def _session(tmp_path) -> dict:
    tmp = str(tmp_path)
    kubeconfig = os.path.join(tmp, "kubeconfig")
    creds = ensure_credentials(tmp)
    out: dict = {}
    async with live_system(seed=1) as system:
        system.spawn("kube-apiserver-0", ApiserverDouble, creds.token, SEED)
        ready = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(
                serve, system, ["kube-apiserver-0"], port=0, data_dir=tmp,
                kubeconfig_path=kubeconfig, ready=ready))
            with anyio.fail_after(20):
                await ready.wait()
            k = Kubectl(tmp, kubeconfig)
            out["config"] = yaml.safe_load(open(kubeconfig).read())
            for name, args in [("version", ("get", "--raw", "/version")),
                               ("api-resources", ("api-resources",)),
                               ("pods", ("get", "pods")), ("wide", ("get", "pods", "-o", "wide")),
                               ("cs", ("get", "componentstatuses")),
                               ("missing", ("get", "pods", "nope")),
                               ("create", ("create", "deployment", "web", "--image=nginx",
                                           "--replicas=2")),
                               ("deploy", ("get", "deploy"))]:
                out[name] = await k(*args)
            out["bad-token"] = await k("--token=wrong", "get", "pods")
            # kubectl itself prompts for a username when it has no credentials at all, so
            # requests without a token are sent by hand.
            out["anon-raw"] = await _get_without_token(out["config"], creds.ca_pem, "/api")
            out["anon-pods"] = await _get_without_token(
                out["config"], creds.ca_pem, "/api/v1/namespaces/default/pods")
            out["anon-version"] = await _get_without_token(out["config"], creds.ca_pem,
                                                           "/version")
            out["watch"] = await _watch(k)
            out["double"] = system.instance("kube-apiserver-0")
            with anyio.fail_after(10):  # the watch mailbox goes once kubectl hangs up
                while any(a.startswith("$http/watch-") for a in system.addresses):
                    await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
    return out


async def _get_without_token(config: dict, ca_pem: bytes, path: str) -> tuple[int, bytes]:
    host, port = config["clusters"][0]["cluster"]["server"][8:].rsplit(":", 1)
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    with anyio.fail_after(10):
        stream = await anyio.connect_tcp(host, int(port), ssl_context=ctx,
                                         tls_hostname="localhost", tls_standard_compatible=False)
        async with stream:
            await stream.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n".encode())
            data = b""
            try:
                while True:
                    data += await stream.receive()
            except anyio.EndOfStream:
                pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def _watch(k: Kubectl) -> str:
    buf = bytearray()
    async with await anyio.open_process(k.argv("get", "pods", "-w", "--output-watch-events"),
                                        env=k.env) as proc:
        await _read_until(proc.stdout, "web-1", buf)
        created = await k("run", "w2", "--image=nginx")
        assert created.returncode == 0, created.stderr
        await _read_until(proc.stdout, "w2", buf)
        proc.terminate()
    return buf.decode()


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    return anyio.run(_session, tmp_path_factory.mktemp("live"))


def test_kubeconfig_names_the_real_address(session) -> None:
    server = session["config"]["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://127.0.0.1:") and not server.endswith(":0")


def test_version_and_api_resources(session) -> None:
    assert json.loads(session["version"].stdout)["gitVersion"] == "v1.32.0"
    rows = _rows(session["api-resources"].stdout)
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["pods", "po", "v1", "true", "Pod"] in rows
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["componentstatuses", "cs", "v1", "false", "ComponentStatus"] in rows


def test_get_pods_prints_kubernetes_columns(session) -> None:
    rows = _rows(session["pods"].stdout)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1][:4] == ["web-1", "1/1", "Running", "0"]
    wide = _rows(session["wide"].stdout)
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES"]
    assert wide[1][5:] == ["10.244.0.5", "node-1", "<none>", "<none>"]
    assert _rows(session["cs"].stdout)[:2] == [["NAME", "STATUS", "MESSAGE", "ERROR"],
                                               ["etcd-0", "Healthy", "ok"]]


def test_errors_are_statuses(session) -> None:
    missing = session["missing"]
    assert missing.returncode == 1
    assert b'Error from server (NotFound): pods "nope" not found' in missing.stderr
    assert session["bad-token"].returncode == 1
    assert b"error: You must be logged in to the server (Unauthorized)" in \
        session["bad-token"].stderr
    for case in ("anon-raw", "anon-pods"):  # discovery here, resources in the apiserver
        status, body = session[case]
        assert status == 401 and json.loads(body)["reason"] == "Unauthorized"
    # /version stays open to anonymous clients, as through system:public-info-viewer.
    status, body = session["anon-version"]
    assert status == 200 and json.loads(body)["minor"] == "32"


def test_create_deployment_sends_protobuf(session) -> None:
    assert session["create"].stdout.strip() == b"deployment.apps/web created"
    creates = [r for r in session["double"].requests
               if r.verb == "create" and r.resource == "deployments"]
    assert creates[0].body["spec"]["replicas"] == 2
    assert creates[0].body["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert _rows(session["deploy"].stdout)[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE",
                                                   "AGE"]


def test_watch_streams_table_rows(session) -> None:
    rows = _rows(session["watch"].encode())
    assert rows[0] == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1][:2] == ["ADDED", "web-1"]
    assert ["ADDED", "w2"] == rows[-1][:2]
