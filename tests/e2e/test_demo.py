"""``kubetwin demo`` end to end, through click's CliRunner: the seed's session on a simulated
minikube, asserted on what it printed (the rows, the event order and wording, the path, the
leader record) and on its determinism (same seed, same bytes — in another process too).

One full run is shared by the module (it takes a few seconds of wall time); ``--section``
and the colour options get runs of their own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from actors.cli import main

SEED = 7
NAME = r"[a-z0-9]+"
SUFFIX = r"[a-z0-9]{5}"


def run(*args: str, color: bool = False) -> str:
    result = CliRunner().invoke(main, ["demo", *args], color=color, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def out() -> str:
    return run("--seed", str(SEED))


def section(text: str, title: str) -> str:
    """The lines of one ``## title`` section."""
    part = text.split(f"## {title}", 1)[1]
    return part.split("\n## ", 1)[0]


def rows_after(text: str, prompt: str) -> list[str]:
    """The output lines of one command, up to the next prompt, note or blank line."""
    lines = text.split(f"$ {prompt}\n", 1)[1].splitlines()
    out = []
    for line in lines:
        if not line or line.startswith(("$ ", "# ", "## ")):
            break
        out.append(line)
    return out


def test_componentstatus_shows_the_seeds_three_healthy_components(out):
    lines = rows_after(out, "kubectl get componentstatus")
    # kubectl >= 1.19 prints the apiserver's deprecation warning (on stderr) first.
    assert lines[0] == "Warning: v1 ComponentStatus is deprecated in v1.19+"
    rows = [r.split() for r in lines[1:]]
    assert rows == [["NAME", "STATUS", "MESSAGE", "ERROR"],
                    ["controller-manager", "Healthy", "ok"],
                    ["scheduler", "Healthy", "ok"],
                    ["etcd-0", "Healthy", '{"health":"true"}']]


def test_the_kube_system_pods_are_the_seeds(out):
    rows = rows_after(out, "kubectl get pod -o custom-columns=POD:metadata.name,"
                           "NODE:spec.nodeName --sort-by spec.nodeName -n kube-system")
    assert rows[0].split() == ["POD", "NODE"]
    names = [r.split()[0] for r in rows[1:]]
    assert all(r.split()[1] == "minikube" for r in rows[1:])
    patterns = [rf"coredns-{NAME}-{SUFFIX}", rf"coredns-{NAME}-{SUFFIX}", "etcd-minikube",
                "kube-addon-manager-minikube", "kube-apiserver-minikube",
                "kube-controller-manager-minikube", rf"kube-proxy-{SUFFIX}",
                "kube-scheduler-minikube", rf"kubernetes-dashboard-{NAME}-{SUFFIX}",
                "storage-provisioner"]
    assert len(names) == len(patterns)
    for name, pattern in zip(names, patterns):
        assert re.fullmatch(pattern, name), (name, pattern)


def test_each_kube_system_pod_says_what_made_it(out):
    rows = {r.split()[0]: r.split()[1:] for r in rows_after(
        out, "kubectl get pod -n kube-system -o custom-columns='POD:metadata.name,"
             "OWNER:metadata.ownerReferences[0].kind,"
             "MIRROR:metadata.annotations.kubernetes\\.io/config\\.mirror'")[1:]}
    for mirror in ("etcd-minikube", "kube-apiserver-minikube", "kube-controller-manager-minikube",
                   "kube-scheduler-minikube", "kube-addon-manager-minikube"):
        owner, config_hash = rows[mirror]
        assert owner == "Node" and re.fullmatch(r"[0-9a-f]{32}", config_hash)
    kinds = {name.rsplit("-", 2)[0] if name.count("-") >= 2 else name: v[0]
             for name, v in rows.items()}
    assert kinds["coredns"] == "ReplicaSet" and kinds["kubernetes-dashboard"] == "ReplicaSet"
    assert next(v[0] for n, v in rows.items() if n.startswith("kube-proxy-")) == "DaemonSet"
    assert rows["storage-provisioner"] == ["<none>", "<none>"]


def _events(block: str) -> list[tuple[str, str, str, str]]:
    """(type, reason, object, message) of each event row of a watch."""
    out = []
    for line in block.splitlines():
        m = re.match(r"^\S+\s+(Normal|Warning)\s+(\S+)\s+(\S+)\s+(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


def test_kubectl_run_shows_the_chain_of_a_request_in_the_event_stream(out):
    part = section(out, "The chain of a request")
    assert "$ kubectl create deployment nginx --image=nginx\ndeployment.apps/nginx created\n" in part
    assert "$ kubectl get events --watch\nLAST SEEN   TYPE     REASON" in part
    events = [e for e in _events(part) if not e[2].startswith("node/")]
    reasons = [e[1] for e in events]
    assert reasons == ["ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Pulling", "Pulled",
                       "Created", "Started"]
    rs = re.fullmatch(r"Scaled up replica set (nginx-[a-z0-9]+) to 1", events[0][3]).group(1)
    assert events[0][2] == "deployment/nginx"
    assert events[1][2] == f"replicaset/{rs}"
    pod = re.fullmatch(rf"Created pod: ({rs}-{SUFFIX})", events[1][3]).group(1)
    assert events[2][2:] == (f"pod/{pod}",
                             f"Successfully assigned default/{pod} to minikube")
    assert events[3][3] == 'Pulling image "nginx"'
    assert events[5][3] == "Created container nginx" and events[6][3] == "Started container nginx"
    assert all(e[0] == "Normal" for e in events)
    assert part.rstrip().endswith("^C")


def test_the_typo_ningx_fails_to_pull_then_backs_off(out):
    part = section(out, "The seed's typo")
    events = _events(part)
    reasons = [(e[0], e[1], e[3]) for e in events]
    assert [r[:2] for r in reasons[:4]] == [("Normal", "ScalingReplicaSet"),
                                            ("Normal", "SuccessfulCreate"),
                                            ("Normal", "Scheduled"), ("Normal", "Pulling")]
    assert ("Warning", "Failed", "Error: ErrImagePull") in reasons
    assert any(r[:2] == ("Warning", "Failed") and "pull access denied" in r[2] for r in reasons)
    assert reasons[-2:] == [("Normal", "BackOff", 'Back-off pulling image "ningx"'),
                            ("Warning", "Failed", "Error: ImagePullBackOff")]
    assert reasons.index(("Warning", "Failed", "Error: ErrImagePull")) < len(reasons) - 2
    pods = {r.split()[0]: r.split()[2] for r in rows_after(part, "kubectl get pods")[1:]}
    ningx = next(s for n, s in pods.items() if n.startswith("ningx-"))
    assert ningx in ("ImagePullBackOff", "ErrImagePull")
    assert next(s for n, s in pods.items() if n.startswith("nginx-")) == "Running"


def test_a_second_node_joins(out):
    part = section(out, "A second node")
    rows = [r.split() for r in rows_after(part, "kubectl get nodes -o wide")]
    assert rows[0][:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    assert [(r[0], r[1], r[2], r[5]) for r in rows[1:]] == [
        ("minikube", "Ready", "control-plane", "192.168.49.2"),
        ("minikube-m02", "Ready", "<none>", "192.168.49.3")]


POD_PATH = re.compile(
    rf"^pod (kubia-{NAME}-{SUFFIX}) eth0 → veth[0-9a-f]{{8}} \(minikube\) → cni0 gateway "
    r"\(minikube\) → minikube eth0 → minikube-m02 eth0 → cni0 gateway \(minikube-m02\) → "
    rf"veth[0-9a-f]{{8}} \(minikube-m02\) → pod (kubia-{NAME}-{SUFFIX}) eth0$", re.M)


def test_pod_to_pod_across_nodes_keeps_the_source_address(out):
    part = section(out, "Pod networking")
    ips = {}
    for r in rows_after(part, "kubectl get pods -l app=kubia -o wide")[1:]:
        cells = r.split()
        ips[cells[0]] = (cells[5], cells[6])
    assert sorted(node for _, node in ips.values()) == ["minikube", "minikube-m02"]
    m = POD_PATH.search(part)
    assert m, part
    a, b = m.group(1), m.group(2)
    assert ips[a][1] == "minikube" and ips[b][1] == "minikube-m02"
    reply = rows_after(part, f"kubectl exec {a} -- curl -s http://{ips[b][0]}:8080")
    assert reply == [f"You've hit {b}", f"Client address: {ips[a][0]}"]  # no NAT
    assert rows_after(part, f"kubectl logs {b} | tail -1") == [
        f"Received request from ::ffff:{ips[a][0]}"]
    assert f"saw the request come from {ips[a][0]}: the sender pod's own IP, no NAT" in part


def test_a_service_ip_and_name_are_dnated_to_a_kubia_pod(out):
    part = section(out, "Services")
    assert "kubectl expose deployment kubia --port=80 --target-port=8080\nservice/kubia exposed" in part
    svc = rows_after(part, "kubectl get service kubia")[1].split()
    vip = svc[2]
    assert svc[:2] == ["kubia", "ClusterIP"] and re.fullmatch(r"10\.\d+\.\d+\.\d+", vip)
    endpoints = rows_after(part, "kubectl get endpoints kubia")[1].split()[1].split(",")
    assert len(endpoints) == 2 and all(e.endswith(":8080") for e in endpoints)
    backends = {e.split(":")[0] for e in endpoints}
    dnat = re.findall(rf"\[DNAT {re.escape(vip)}:80 → ([\d.]+):8080\]", part)
    assert len(dnat) == 2 and set(dnat) <= backends
    assert re.search(rf"# one of them: DNAT {re.escape(vip)}:80 → [\d.]+:8080 at cni0 "
                     r"\(minikube\), the source left as it was", part)
    assert re.search(rf"# the name went to kube-dns \(DNAT 10\.96\.0\.10:53 → [\d.]+:53: "
                     rf"coredns-{NAME}-{SUFFIX}\)", part)
    hits = re.findall(rf"^You've hit (kubia-{NAME}-{SUFFIX})$", part, re.M)
    assert len(hits) == 5
    clients = set(re.findall(r"^Client address: ([\d.]+)$", part, re.M))
    assert len(clients) == 1 and clients.isdisjoint(backends)  # the source is kept
    assert f"  kubia.default.svc.cluster.local → {vip}" in part
    assert "  kubia.default.svc.cluster.local.default.svc.cluster.local → NXDOMAIN" in part


def test_etcd_holds_the_registry_keys_and_the_stored_pods(out):
    part = section(out, "How resource metadata is stored in etcd")
    counts = dict(reversed(line.split()) for line in rows_after(
        part, "etcdctl get /registry --prefix --keys-only | grep -v '^$' | cut -d/ -f3 | uniq -c"))
    assert int(counts["pods"]) >= 14 and int(counts["namespaces"]) == 4
    assert {"deployments", "replicasets", "events", "leases", "minions"} <= set(counts)
    keys = rows_after(part, "etcdctl get /registry/pods/default --prefix --keys-only | grep -v '^$'")
    assert len(keys) == 4 and all(k.startswith("/registry/pods/default/") for k in keys)
    assert [k.split("/")[-1].split("-")[0] for k in keys] == ["kubia", "kubia", "nginx", "ningx"]
    shown = re.search(r"\$ etcdctl get (/registry/pods/default/kubia-\S+) \| fold -w 100 \| "
                      r"head -4\n(.*)\n(.*)\n", part)
    assert shown and shown.group(2) == shown.group(1)
    assert shown.group(3).startswith('{"kind":"Pod","apiVersion":"v1","metadata":{"name":"kubia-')


def test_the_schedulers_leader_record(out):
    part = section(out, "High availability")
    assert 'Error from server (NotFound): endpoints "kube-scheduler" not found' in part
    lease = rows_after(part, "kubectl get lease kube-scheduler -n kube-system -o yaml")
    text = "\n".join(lease)
    assert lease[:2] == ["apiVersion: coordination.k8s.io/v1", "kind: Lease"]
    assert re.search(r"^  holderIdentity: kube-scheduler-0_[0-9a-f-]{36}$", text, re.M)
    assert "  leaseDurationSeconds: 15" in lease and "  leaseTransitions: 0" in lease
    assert re.search(r'^  acquireTime: "2026-01-01T\d\d:\d\d:\d\d\.\d{6}Z"$', text, re.M)
    assert re.search(r'^  renewTime: "2026-01-01T', text, re.M)
    assert re.search(r'^  resourceVersion: "\d+"$', text, re.M)
    holder = re.search(r"^  holderIdentity: (\S+)$", text, re.M).group(1)
    after = rows_after(part, "kubectl get lease kube-scheduler -n kube-system -o custom-columns="
                             "HOLDER:spec.holderIdentity,TRANSITIONS:spec.leaseTransitions,"
                             "ACQUIRED:spec.acquireTime")
    assert after[0].split() == ["HOLDER", "TRANSITIONS", "ACQUIRED"]
    new_holder, transitions, _ = after[1].split()
    assert new_holder != holder and new_holder.startswith("kube-scheduler-0_")
    assert transitions == "1"
    waited = float(re.search(r"# the lease changed hands ([\d.]+) s after the crash", part)[1])
    assert 15 <= waited <= 30


def test_the_closing_line_names_the_seed_and_how_to_replay(out):
    last = out.rstrip().splitlines()[-1]
    assert re.fullmatch(rf"# seed {SEED}: \d+\.\d s of virtual time since boot; the same seed "
                        rf"prints the same bytes\. Replay: kubetwin demo --seed {SEED}", last)


def test_same_seed_same_bytes_in_this_process_and_another(out):
    assert run("--seed", str(SEED)) == out
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    code = f"from actors.cli import main; main(['demo', '--seed', '{SEED}', '--no-color'])"
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=120, check=True)
    assert other.stdout == out


def test_another_seed_gives_another_run():
    other = run("--seed", "8", "--section", "kube-system")
    assert "(seed 8)" in other
    assert re.search(rf"^coredns-{NAME}-{SUFFIX} ", other, re.M)


def test_a_section_prints_exactly_its_part_of_the_full_run(out):
    one = run("--seed", str(SEED), "--section", "kubia")
    body = "## " + one.split("\n## ", 1)[1].rsplit("\n\n# seed", 1)[0]
    assert body.startswith("## Pod networking") and "## Services" not in body
    assert body in out
    assert one.splitlines()[0] == out.splitlines()[0]
    assert one.rstrip().endswith(f"Replay: kubetwin demo --seed {SEED} --section kubia")


def test_colour_only_when_asked():
    plain = run("--section", "componentstatus", "--no-color", color=True)
    coloured = run("--section", "componentstatus", color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_an_unknown_section_is_refused():
    result = CliRunner().invoke(main, ["demo", "--section", "nope"])
    assert result.exit_code == 2 and "Invalid value for '--section'" in result.output
