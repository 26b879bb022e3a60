"""kube-proxy's addon manifests, as kubeadm applies them: ServiceAccount, ConfigMap, DaemonSet.

What it is: ``daemonset_objects()`` (in creation order) and ``node_pod(node, rng)``, the pod
the DaemonSet controller would make for a node — ``kube-proxy-<5 random>``, hostNetwork,
``system-node-critical``, tolerating every taint, pinned to its node by required node
affinity on ``metadata.name`` (as DaemonSet pods are since 1.12) and with ``nodeName`` set.

Concurrency model: none; functions return fresh dicts.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["KUBE_PROXY_IMAGE", "KUBE_PROXY_LABELS", "daemonset_objects", "node_pod"]

KUBE_PROXY_IMAGE = "registry.k8s.io/kube-proxy:v1.31.0"
KUBE_PROXY_LABELS = {"k8s-app": "kube-proxy"}
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_CONFIG = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: 0.0.0.0
clusterCIDR: 10.244.0.0/16
iptables:
  minSyncPeriod: 1s
  syncPeriod: 30s
  masqueradeAll: false
metricsBindAddress: 0.0.0.0:10249
mode: iptables
"""
Obj = dict[str, Any]


def _template() -> Obj:
    return {
        "metadata": {"labels": dict(KUBE_PROXY_LABELS)},
        "spec": {
            "priorityClassName": "system-node-critical",
            "serviceAccountName": "kube-proxy",
            "hostNetwork": True,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "kube-proxy", "image": KUBE_PROXY_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/usr/local/bin/kube-proxy",
                            "--config=/var/lib/kube-proxy/config.conf",
                            "--hostname-override=$(NODE_NAME)"],
                "env": [{"name": "NODE_NAME",
                         "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "securityContext": {"privileged": True},
                "volumeMounts": [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}],
            }],
            "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
        },
    }


def daemonset_objects() -> list[tuple[str, Obj]]:
    meta = {"name": "kube-proxy", "namespace": "kube-system"}
    return [
        ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}),
        ("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {**meta, "labels": {"app": "kube-proxy"}},
                        "data": {"config.conf": _CONFIG}}),
        ("daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet",
                        "metadata": {**meta, "labels": dict(KUBE_PROXY_LABELS)},
                        "spec": {"selector": {"matchLabels": dict(KUBE_PROXY_LABELS)},
                                 "updateStrategy": {"type": "RollingUpdate"},
                                 "template": _template()}}),
    ]


def node_pod(node: str, rng: random.Random) -> Obj:
    template = _template()
    spec = json.loads(json.dumps(template["spec"]))
    spec["nodeName"] = node
    spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                "values": [node]}]}]}}}
    suffix = "".join(rng.choice(_ALPHABET) for _ in range(5))
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"kube-proxy-{suffix}", "namespace": "kube-system",
                         "labels": {**KUBE_PROXY_LABELS, "pod-template-generation": "1",
                                    "controller-revision-hash": "5c5f7b7d8d"}},
            "spec": spec}
