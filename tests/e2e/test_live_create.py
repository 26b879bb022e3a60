"""End to end: every ``kubectl create`` generator of kubectl 1.32, against ``kubetwin up``.

kubectl 1.32 POSTs the objects of ``kubectl create <subcommand>`` as Kubernetes protobuf
(``kubectl run`` and ``kubectl expose`` send JSON); this module runs each subcommand once
as a user types it — clusterrole, clusterrolebinding, configmap, cronjob, deployment, job
(also ``--from=cronjob/x``), namespace, poddisruptionbudget, priorityclass, quota, role,
rolebinding, secret generic|docker-registry|tls, service clusterip|nodeport|loadbalancer|
externalname, serviceaccount, then ``run`` and ``expose`` — and checks kubectl printed
``<resource>[.<group>]/<name> created`` and ``kubectl get`` finds each object, with the
fields the generator set. Left out: ``create ingress`` (no networking.k8s.io Ingress in
this cluster) and ``create token`` (the serviceaccounts/token subresource is not served).

Real time, real processes: one ``kubetwin up --etcd-members 1`` for the module, bounded
waits (polls) only, 127.0.0.1 and port 0 only; the process is stopped before the fixture
returns.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._live import Kubectl, Up, eventually

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="needs the kubectl binary")

RBAC = "rbac.authorization.k8s.io"
# (subcommand arguments, the object as `kubectl get -o name` prints it); run in this order
# (job --from needs the cronjob, expose the deployment). {pki} is the data dir's pki.
CREATES: list[tuple[tuple[str, ...], str]] = [
    (("create", "namespace", "team-a"), "namespace/team-a"),
    (("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two"),
     "configmap/cfg"),
    (("create", "secret", "generic", "s1", "--from-literal=pw=hunter2"), "secret/s1"),
    (("create", "secret", "docker-registry", "dr1", "--docker-server=reg.example",
      "--docker-username=u", "--docker-password=p"), "secret/dr1"),
    (("create", "secret", "tls", "t1", "--cert={pki}/apiserver.crt",
      "--key={pki}/apiserver.key"), "secret/t1"),
    (("create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"),
     "deployment.apps/web"),
    (("create", "job", "j1", "--image=busybox", "--", "date"), "job.batch/j1"),
    (("create", "cronjob", "hello", "--image=busybox", "--schedule=*/1 * * * *", "--",
      "echo", "hi"), "cronjob.batch/hello"),
    (("create", "job", "j2", "--from=cronjob/hello"), "job.batch/j2"),
    (("create", "poddisruptionbudget", "pdb1", "--selector=app=web", "--min-available=1"),
     "poddisruptionbudget.policy/pdb1"),
    (("create", "priorityclass", "pc0", "--value=0"), "priorityclass.scheduling.k8s.io/pc0"),
    (("create", "priorityclass", "pc1", "--value=1000", "--description=high",
      "--preemption-policy=Never"), "priorityclass.scheduling.k8s.io/pc1"),
    # quotas that admit the pods below: none asks pods for cpu or memory
    (("create", "quota", "q1", "--hard=pods=20,services=10,requests.storage=1Gi"),
     "resourcequota/q1"),
    (("create", "quota", "q2", "--hard=pods=20", "--scopes=BestEffort"), "resourcequota/q2"),
    (("create", "serviceaccount", "sa1"), "serviceaccount/sa1"),
    (("create", "role", "r1", "--verb=get,list", "--resource=pods"), f"role.{RBAC}/r1"),
    (("create", "rolebinding", "rb1", "--role=r1", "--serviceaccount=default:sa1",
      "--user=bob"), f"rolebinding.{RBAC}/rb1"),
    (("create", "clusterrole", "cr1", "--verb=get", "--resource=deployments.apps"),
     f"clusterrole.{RBAC}/cr1"),
    (("create", "clusterrole", "cr2", "--verb=get", "--non-resource-url=/healthz"),
     f"clusterrole.{RBAC}/cr2"),
    (("create", "clusterrole", "cr3", "--aggregation-rule=team=a"), f"clusterrole.{RBAC}/cr3"),
    (("create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--user=alice",
      "--group=devs"), f"clusterrolebinding.{RBAC}/crb1"),
    (("create", "service", "clusterip", "c1", "--tcp=80:8080"), "service/c1"),
    (("create", "service", "nodeport", "np1", "--tcp=80:8080"), "service/np1"),
    (("create", "service", "loadbalancer", "lb1", "--tcp=80:8080"), "service/lb1"),
    (("create", "service", "externalname", "ex1", "--external-name=example.com"),
     "service/ex1"),
    (("run", "p1", "--image=nginx"), "pod/p1"),
    (("expose", "deployment", "web", "--port=80", "--name=websvc"), "service/websvc"),
]


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every CREATES command's output, then ``kubectl get -o name`` of all the objects
    (polled until it finds them all) and ``kubectl get -o json`` of them."""
    tmp = tmp_path_factory.mktemp("live-create")
    up = Up(tmp, "create", "--etcd-members", "1")
    try:
        up.wait_ready()
        kubectl = Kubectl(tmp, up, KUBECTL or "kubectl")
        pki = str(up.data_dir / "pki")
        printed = {}
        for args, name in CREATES:
            out = kubectl(*(a.replace("{pki}", pki) for a in args))
            printed[name] = (out.returncode, out.stdout.strip(), out.stderr.strip())

        names = [name for _, name in CREATES]

        def get_names() -> list[str]:
            out = kubectl("get", "-o", "name", *names)
            return out.stdout.split() if out.returncode == 0 else []

        found = eventually(get_names, 10)
        listed = json.loads(kubectl("get", "-o", "json", *names).stdout or '{"items": []}')
        up.stop()
        yield {"printed": printed, "found": found, "objects": {
            f"{o['kind']}/{o['metadata']['name']}": o for o in listed["items"]}}
    finally:
        up.kill()


@pytest.mark.parametrize("args, name", CREATES, ids=[n for _, n in CREATES])
def test_kubectl_reports_the_object_created(created: dict[str, Any], args: tuple[str, ...],
                                            name: str) -> None:
    verb = "exposed" if args[0] == "expose" else "created"
    assert created["printed"][name] == (0, f"{name} {verb}", "")


def test_kubectl_get_finds_every_object(created: dict[str, Any]) -> None:
    assert created["found"] == [name for _, name in CREATES]


def test_the_fields_the_generators_set_arrive(created: dict[str, Any]) -> None:
    objects = created["objects"]
    cronjob = objects["CronJob/hello"]["spec"]
    assert cronjob["schedule"] == "*/1 * * * *"
    container = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["command"]) == ("busybox", ["echo", "hi"])
    j2 = objects["Job/j2"]["metadata"]
    assert j2["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert [(r["kind"], r["name"]) for r in j2["ownerReferences"]] == [("CronJob", "hello")]
    assert objects["PriorityClass/pc1"]["value"] == 1000
    assert objects["PriorityClass/pc1"]["description"] == "high"
    assert objects["PriorityClass/pc1"]["preemptionPolicy"] == "Never"
    assert objects["ResourceQuota/q1"]["spec"] == {
        "hard": {"pods": "20", "requests.storage": "1Gi", "services": "10"}}
    assert objects["ResourceQuota/q2"]["spec"] == {"hard": {"pods": "20"},
                                                   "scopes": ["BestEffort"]}
    assert objects["Role/r1"]["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    assert objects["ClusterRole/cr2"]["rules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]
    assert objects["ClusterRole/cr3"]["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]}
    assert objects["RoleBinding/rb1"]["roleRef"] == {"apiGroup": RBAC, "kind": "Role",
                                                     "name": "r1"}
    assert objects["RoleBinding/rb1"]["subjects"] == [
        {"kind": "User", "apiGroup": RBAC, "name": "bob"},
        {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"}]
    assert [s["name"] for s in objects["ClusterRoleBinding/crb1"]["subjects"]] == [
        "alice", "devs"]
    assert objects["Secret/t1"]["type"] == "kubernetes.io/tls"
    assert objects["Service/ex1"]["spec"]["externalName"] == "example.com"
