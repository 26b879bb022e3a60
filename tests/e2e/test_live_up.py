"""End to end: ``kubetwin up`` as a subprocess, driven by the REAL kubectl and etcdctl.

One scenario, run once for the module (a live cluster takes seconds to boot): ``kubetwin up
--port 0`` on a fresh data directory with a 3-member etcd, waited for by its kubeconfig
appearing (bounded); kubectl and etcdctl as a user types them (``source DIR/etcdctl.env``);
SIGTERM to the process; ``kubetwin up`` again on the same directory (its saved spec), the
objects made before still there; ``kubetwin down``. The tests below assert on what each
command printed.

Components arrive over time (the controller manager is being built): what depends on one
is asserted only when its kind is in the component registry — the same code the
subprocess runs — so the tests tighten by themselves as components land.

Real time, real processes: bounded waits (polls) only, 127.0.0.1 and port 0 only, every
process started is stopped (killed if it must be) before the fixture returns.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from actors.cluster import registered
from tests.e2e._live import KUBETWIN, Up, eventually

KUBECTL = shutil.which("kubectl")
ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(KUBECTL is None or ETCDCTL is None,
                                reason="needs the kubectl and etcdctl binaries")

HAS = set(registered())


class Tools:
    """kubectl and etcdctl as a user runs them, with HOME and the caches in ``tmp``."""

    def __init__(self, tmp: Path, up: Up) -> None:
        self.up = up
        self.env = {**os.environ, "HOME": str(tmp)}
        self.cache = str(tmp / "kube-cache")

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [KUBECTL or "kubectl", "--kubeconfig", str(self.up.kubeconfig), "--cache-dir",
                self.cache, "--request-timeout=20s", *args]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=30,
                              stdin=subprocess.DEVNULL, check=False)

    def watch_events(self, until: str, timeout: float = 20.0) -> str:
        """``kubectl get events --watch`` until ``until`` is printed (bounded), then ^C."""
        path = Path(self.cache).with_name("watch.out")
        argv = [KUBECTL or "kubectl", "--kubeconfig", str(self.up.kubeconfig), "--cache-dir",
                self.cache, "get", "events", "--watch"]
        with open(path, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    stdin=subprocess.DEVNULL)
        try:
            eventually(lambda: until in path.read_text(), timeout)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return path.read_text()

    def etcdctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``source DIR/etcdctl.env; etcdctl …``, literally."""
        env_file = shlex.quote(str(self.up.data_dir / "etcdctl.env"))
        script = f"source {env_file} && etcdctl {shlex.join(args)}"
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              env=self.env, timeout=30, stdin=subprocess.DEVNULL, check=False)


def _rows(text: str) -> dict[str, list[str]]:
    """kubectl's table output by first cell (two or more spaces separate columns)."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    return {r[0]: r for r in rows[1:]}


def _healthy(t: Tools, names: set[str]) -> Callable[[], subprocess.CompletedProcess[str] | None]:
    def check() -> subprocess.CompletedProcess[str] | None:
        cs = t.kubectl("get", "componentstatus")
        rows = _rows(cs.stdout)
        return cs if all(rows.get(n, ["", ""])[1] == "Healthy" for n in names) else None
    return check


def _first_boot(tmp: Path, out: dict[str, Any], procs: list[Up]) -> Up:
    up = Up(tmp, "first", "--etcd-members", "3")
    procs.append(up)
    up.wait_ready()
    out["ready_stdout"] = up.stdout
    out["config"] = yaml.safe_load(up.kubeconfig.read_text())
    out["pid_file"] = (up.data_dir / "kubetwin.pid").read_text()
    out["env_file"] = (up.data_dir / "etcdctl.env").read_text()
    out["pid"] = up.proc.pid
    again = subprocess.run([*KUBETWIN, "up", "--data-dir", str(up.data_dir), "--port", "0"],
                           capture_output=True, text=True, timeout=30, check=False)
    out["second_up"] = again
    return up


def _workloads(t: Tools, out: dict[str, Any]) -> None:
    k = t.kubectl
    out["ns"] = k("get", "ns")
    out["create"] = k("create", "deployment", "web", "--image=nginx")
    out["run"] = k("run", "nginx", "--image=nginx")
    wanted = {"etcd-0", "etcd-1", "etcd-2"} | ({"scheduler"} if "kube-scheduler" in HAS else set())
    if "kube-controller-manager" in HAS:
        wanted.add("controller-manager")
    out["cs"] = eventually(_healthy(t, wanted), 20) or k("get", "componentstatus")
    if {"kube-scheduler", "kubelet"} <= HAS:
        eventually(lambda: k("get", "pod", "nginx", "-o", "jsonpath={.status.phase}")
                   .stdout == "Running", 30)
    if {"kube-controller-manager", "kube-scheduler", "kubelet"} <= HAS:
        eventually(lambda: "Running" in k("get", "pods", "-l", "app=web").stdout, 30)
    out["pods"] = k("get", "pods")
    out["deploy"] = k("get", "deployment", "web")
    out["events"] = k("get", "events")
    out["events_watch"] = t.watch_events("nginx" if "kube-scheduler" in HAS else "LAST SEEN")
    out["lease"] = k("get", "lease", "kube-scheduler", "-n", "kube-system", "-o", "yaml")
    out["missing"] = k("get", "deployment", "nope")
    out["bad_token"] = k("--token=not-the-token", "get", "ns")
    out["keys"] = t.etcdctl("get", "/registry", "--prefix", "--keys-only")
    out["members"] = t.etcdctl("member", "list")
    out["status"] = t.etcdctl("endpoint", "status", "--cluster")


def _restart(tmp: Path, up: Up, out: dict[str, Any], procs: list[Up]) -> None:
    up.proc.send_signal(signal.SIGTERM)
    out["sigterm_rc"] = up.wait_exit()
    out["first_stderr"] = up.stderr
    out["after_stop"] = sorted(p.name for p in up.data_dir.iterdir())
    out["journals"] = sorted(p.name for p in (up.data_dir / "state").iterdir())
    out["kubeconfig_after_stop"] = up.kubeconfig.exists()
    again = Up(tmp, "second")  # no flags: the saved spec (3 etcd members)
    procs.append(again)
    again.wait_ready()
    t = Tools(tmp, again)
    out["restart_deploy"] = t.kubectl("get", "deployment", "web", "-o", "name")
    out["restart_pod"] = t.kubectl("get", "pod", "nginx", "-o", "name")
    out["restart_key"] = t.etcdctl("get", "/registry/deployments/default/web", "--keys-only")
    out["restart_members"] = t.etcdctl("member", "list")
    out["down"] = subprocess.run([*KUBETWIN, "down", "--data-dir", str(again.data_dir)],
                                 capture_output=True, text=True, timeout=40, check=False)
    out["down_rc"] = again.wait_exit()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("up")
    out: dict[str, Any] = {"started": time.monotonic()}
    procs: list[Up] = []
    try:
        first = _first_boot(tmp, out, procs)
        _workloads(Tools(tmp, first), out)
        _restart(tmp, first, out, procs)
        out["seconds"] = time.monotonic() - out["started"]
        yield out
    finally:
        for up in procs:
            up.kill()


def test_up_writes_kubeconfig_and_etcdctl_env_once_ready(session: dict[str, Any]) -> None:
    config = session["config"]
    server = config["clusters"][0]["cluster"]["server"]
    assert re.fullmatch(r"https://127\.0\.0\.1:[1-9][0-9]*", server), server
    assert config["current-context"] == "kubetwin"
    assert config["users"][0]["user"]["token"]
    lines = session["ready_stdout"].splitlines()
    assert lines[0].startswith("export KUBECONFIG=") and lines[0].endswith("/kubeconfig")
    assert lines[1].startswith("source ") and lines[1].endswith("/etcdctl.env")
    env = session["env_file"]
    assert "export ETCDCTL_API=3" in env
    assert len(re.findall(r"127\.0\.0\.1:\d+", env)) == 3
    assert int(session["pid_file"]) == session["pid"]
    second = session["second_up"]
    assert second.returncode == 1 and "is in use by another kubetwin" in second.stderr


def test_kubectl_componentstatus_and_namespaces(session: dict[str, Any]) -> None:
    cs = session["cs"]
    assert cs.returncode == 0, cs.stderr
    assert cs.stdout.split("\n", 1)[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    rows = _rows(cs.stdout)
    assert list(rows)[:2] == ["controller-manager", "scheduler"]
    for i in range(3):
        assert rows[f"etcd-{i}"][1:] == ["Healthy", '{"health":"true"}'], cs.stdout
    if "kube-scheduler" in HAS:
        assert rows["scheduler"][1:] == ["Healthy", "ok"], cs.stdout
    if "kube-controller-manager" in HAS:
        assert rows["controller-manager"][1:] == ["Healthy", "ok"], cs.stdout
    ns = _rows(session["ns"].stdout)
    for name in ("default", "kube-node-lease", "kube-public", "kube-system"):
        assert ns[name][1] == "Active", session["ns"].stdout


def test_kubectl_workloads_and_events(session: dict[str, Any]) -> None:
    assert session["create"].stdout.strip() == "deployment.apps/web created"
    assert session["run"].stdout.strip() == "pod/nginx created"
    assert _rows(session["deploy"].stdout)["web"][0] == "web"
    pods = _rows(session["pods"].stdout)
    events = session["events"].stdout
    if {"kube-scheduler", "kubelet"} <= HAS:
        assert pods["nginx"][1:3] == ["1/1", "Running"], session["pods"].stdout
        assert "Successfully assigned default/nginx to minikube" in events
        assert re.search(r"Started\s+pod/nginx", events), events
        assert re.search(r"Scheduled\s+pod/nginx", session["events_watch"])
    if {"kube-controller-manager", "kube-scheduler", "kubelet"} <= HAS:
        assert any(n.startswith("web-") and r[2] == "Running" for n, r in pods.items())
        assert re.search(r"ScalingReplicaSet\s+deployment/web", events), events


def test_kubectl_leader_lease_not_found_and_authentication(session: dict[str, Any]) -> None:
    if "kube-scheduler" in HAS:
        lease = yaml.safe_load(session["lease"].stdout)
        assert lease["kind"] == "Lease"
        assert lease["spec"]["holderIdentity"].startswith("kube-scheduler-0_")
        assert lease["spec"]["leaseDurationSeconds"] == 15
    missing = session["missing"]
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr
    bad = session["bad_token"]
    assert bad.returncode == 1 and "You must be logged in to the server" in bad.stderr


def test_etcdctl_sees_the_registry_and_the_members(session: dict[str, Any]) -> None:
    keys = session["keys"].stdout.split()
    for key in ("/registry/namespaces/default", "/registry/namespaces/kube-system",
                "/registry/deployments/default/web", "/registry/pods/default/nginx",
                "/registry/services/specs/default/kubernetes"):
        assert key in keys, session["keys"].stdout
    members = [line.split(", ") for line in session["members"].stdout.splitlines()]
    assert [m[1:3] for m in members] == [["started", f"etcd-{i}"] for i in range(3)]
    status = [line.split(", ") for line in session["status"].stdout.splitlines()]
    assert len(status) == 3, session["status"].stdout
    assert [s[4] for s in status].count("true") == 1  # IS LEADER: exactly one
    assert len({s[7] for s in status}) >= 1 and all(int(s[7]) > 0 for s in status)


def test_restart_on_the_same_data_dir_keeps_objects(session: dict[str, Any]) -> None:
    assert session["sigterm_rc"] == 0, session["first_stderr"]
    assert "SIGTERM: stopping" in session["first_stderr"]
    assert "kubetwin.pid" not in session["after_stop"]
    assert {"cluster.yaml", "etcdctl.env", "pki", "state"} <= set(session["after_stop"])
    journals = session["journals"]  # the components' disks; no file per watch stream
    assert {"etcd-0.journal", "etcd-1.journal", "etcd-2.journal"} <= set(journals)
    assert not [j for j in journals if j.startswith("$")], journals
    assert not session["kubeconfig_after_stop"]  # a script waiting for it waits for the API
    assert session["restart_deploy"].stdout.strip() == "deployment.apps/web"
    assert session["restart_pod"].stdout.strip() == "pod/nginx"
    assert session["restart_key"].stdout.split() == ["/registry/deployments/default/web"]
    assert len(session["restart_members"].stdout.splitlines()) == 3
    assert session["down"].returncode == 0, session["down"].stderr
    assert session["down_rc"] == 0
    assert session["seconds"] < 60
