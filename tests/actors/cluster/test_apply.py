"""cluster.apply as kubectl apply: create, configure with a three-way merge, leave alone."""

import json

import pytest

from actors import ApiError, ClusterSpec, simulate
from actors.apiserver import LAST_APPLIED_ANNOTATION

WEB = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, team: a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
"""


@pytest.fixture
def cluster():
    with simulate(ClusterSpec(nodes=[]), seed=13) as c:
        yield c


def test_apply_creates_with_last_applied(cluster):
    out = cluster.apply(WEB)
    assert [o["kind"] for o in out] == ["Namespace", "Deployment", "ConfigMap"]
    d = cluster.get("deployments", "web", "shop")
    last = json.loads(d["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
    assert last["spec"]["replicas"] == 2 and last["metadata"]["namespace"] == "shop"
    assert cluster.get("configmaps", "settings")["data"] == {"mode": "fast"}  # default ns


def test_reapply_unchanged_writes_nothing(cluster):
    first = cluster.apply(WEB)
    again = cluster.apply(WEB)
    assert [o["metadata"]["resourceVersion"] for o in again] == \
        [o["metadata"]["resourceVersion"] for o in first]


def test_apply_three_way_merge(cluster):
    cluster.apply(WEB)
    # Someone else scales it and adds a label; the manifest drops the "team" label.
    cluster.patch("deployments", "web", {"metadata": {"labels": {"owner": "ops"}}}, "shop")
    changed = WEB.replace("labels: {app: web, team: a}", "labels: {app: web}").replace(
        "image: nginx:1.27", "image: nginx:1.28")
    cluster.apply(changed)
    d = cluster.get("deployments", "web", "shop")
    assert d["metadata"]["labels"] == {"app": "web", "owner": "ops"}  # team removed, owner kept
    [c] = d["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "nginx:1.28" and c["ports"] == [{"containerPort": 80,
                                                          "protocol": "TCP"}]
    assert d["metadata"]["generation"] == 2


def test_apply_accepts_dicts_and_lists(cluster):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    cluster.apply(cm)
    cluster.apply({"apiVersion": "v1", "kind": "List", "items": [
        {**cm, "data": {"k": "w"}},
        {**cm, "metadata": {"name": "b"}}]})
    assert cluster.get("configmaps", "a")["data"] == {"k": "w"}
    assert cluster.get("configmaps", "b")


def test_apply_errors(cluster):
    with pytest.raises(ApiError) as e:
        cluster.apply("kind: Widget\napiVersion: v1\nmetadata: {name: x}\n")
    assert e.value.code == 400
    with pytest.raises(ApiError) as e:
        cluster.apply("kind: ConfigMap\napiVersion: v1\nmetadata: {}\n")
    assert e.value.code == 400
    with pytest.raises(ApiError) as e:
        cluster.apply("a: [")
    assert e.value.code == 400
    with pytest.raises(ApiError) as e:  # invalid objects come back as 422 with causes
        cluster.apply("kind: ConfigMap\napiVersion: v1\nmetadata: {name: Bad_Name}\n")
    assert e.value.code == 422
