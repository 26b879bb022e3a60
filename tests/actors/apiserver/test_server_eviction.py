"""pods/eviction (kubectl drain): the pod is deleted with the eviction's deleteOptions."""

from actors import ClusterSpec, simulate

SPEC = ClusterSpec(etcd_members=1, apiservers=1, schedulers=0, controller_managers=0, nodes=[])


def test_eviction_deletes_the_pod_gracefully():
    with simulate(SPEC, seed=2) as c:
        c.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                  "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "nginx"}]}})
        out = c.request("create", "pods", name="p", namespace="default", subresource="eviction",
                        body={"apiVersion": "policy/v1", "kind": "Eviction",
                              "metadata": {"name": "p", "namespace": "default"},
                              "deleteOptions": {"gracePeriodSeconds": 7}})
        assert out["status"] == "Success"
        pod = c.get("pods", "p")
        assert pod["metadata"]["deletionGracePeriodSeconds"] == 7
        assert pod["metadata"].get("deletionTimestamp")
