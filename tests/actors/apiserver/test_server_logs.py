"""pods/log: the apiserver asks the pod's kubelet, as kube-apiserver proxies /containerLogs."""

import pytest

from actors import ApiError, ClusterSpec, simulate


def test_pod_log_subresource_reads_the_kubelet():
    with simulate(ClusterSpec(), seed=3) as c:
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "k"},
                  "spec": {"containers": [{"name": "k", "image": "luksa/kubia"}]}})
        c.run_until(lambda _c: (c.get("pods", "k").get("status") or {}).get("phase") == "Running",
                    timeout=120)
        text = c.request("get", "pods", name="k", namespace="default", subresource="log")
        assert text == "Kubia server starting...\n" == c.logs("k")
        assert c.request("get", "pods", name="k", namespace="default", subresource="log",
                         params={"tailLines": "0"}) == ""
        with pytest.raises(ApiError) as e:
            c.request("get", "pods", name="k", namespace="default", subresource="log",
                      params={"container": "nope"})
        assert e.value.code == 400 and e.value.message == "container nope is not valid for pod k"
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unbound"},
                  "spec": {"nodeName": "", "schedulerName": "none",
                           "containers": [{"name": "a", "image": "nginx"}]}})
        with pytest.raises(ApiError) as e:
            c.request("get", "pods", name="unbound", namespace="default", subresource="log")
        assert e.value.message == "pod unbound does not have a host assigned"
