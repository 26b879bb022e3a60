"""The CoreDNS addon's manifests, as kubeadm (and minikube) apply them at cluster creation.

What it is: plain dicts for the ``coredns`` ServiceAccount, the ``system:coredns`` ClusterRole
and its binding, the ``coredns`` ConfigMap (the Corefile), the ``coredns`` Deployment (two
replicas of ``registry.k8s.io/coredns/coredns:v1.11.1``, ``k8s-app: kube-dns``, readiness on
``:8181/ready``, liveness on ``:8080/health``) and the ``kube-dns`` Service (ClusterIP
10.96.0.10, ports 53/UDP ``dns``, 53/TCP ``dns-tcp``, 9153/TCP ``metrics``), in the order an
addon manager creates them; and ``bare_pod``, the pod a ReplicaSet would make from the
Deployment's template (``coredns-<pod-template-hash>-<5 random>``), for clusters that run no
controller manager.

Concurrency model: none; functions return fresh dicts.

Invariants: the pod-template-hash is a pure function of the template (FNV-32a of its JSON,
safe-encoded as ``rand.SafeEncodeString`` does), so the same manifests give the same names.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ._resolver import KUBE_DNS_IP

__all__ = ["ADDON_ORDER", "COREDNS_IMAGE", "COREDNS_LABELS", "COREFILE", "SAFE_ALPHABET",
           "addon_objects", "bare_pod", "coredns_deployment", "kube_dns_service",
           "random_suffix", "template_hash"]

COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.1"
COREDNS_LABELS = {"k8s-app": "kube-dns"}
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""
ADDON_ORDER = ("serviceaccounts", "clusterroles", "clusterrolebindings", "configmaps",
               "deployments", "services")
Obj = dict[str, Any]


def _meta(name: str, namespace: str | None = "kube-system", **extra: Any) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def _rbac() -> list[tuple[str, Obj]]:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": _meta("system:coredns", None),
            "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods",
                                                         "namespaces"],
                       "verbs": ["list", "watch"]},
                      {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                       "verbs": ["list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": _meta("system:coredns", None),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "system:coredns"},
               "subjects": [{"kind": "ServiceAccount", "name": "coredns",
                             "namespace": "kube-system"}]}
    return [("clusterroles", role), ("clusterrolebindings", binding)]


def _container() -> Obj:
    return {
        "name": "coredns", "image": COREDNS_IMAGE, "imagePullPolicy": "IfNotPresent",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "70Mi"},
                      "limits": {"memory": "170Mi"}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                          "initialDelaySeconds": 60, "timeoutSeconds": 5,
                          "successThreshold": 1, "failureThreshold": 5},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns",
                          "readOnly": True}],
    }


def coredns_deployment(replicas: int = 2) -> Obj:
    template = {
        "metadata": {"labels": dict(COREDNS_LABELS)},
        "spec": {
            "priorityClassName": "system-cluster-critical",
            "serviceAccountName": "coredns",
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": "node-role.kubernetes.io/control-plane",
                             "effect": "NoSchedule"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "containers": [_container()],
            "dnsPolicy": "Default",
            "volumes": [{"name": "config-volume",
                         "configMap": {"name": "coredns",
                                       "items": [{"key": "Corefile", "path": "Corefile"}]}}],
        },
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta("coredns", labels=dict(COREDNS_LABELS)),
            "spec": {"replicas": replicas,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": 1}},
                     "selector": {"matchLabels": dict(COREDNS_LABELS)},
                     "template": template}}


def kube_dns_service(cluster_ip: str = KUBE_DNS_IP) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta("kube-dns", labels={**COREDNS_LABELS,
                                                  "kubernetes.io/cluster-service": "true",
                                                  "kubernetes.io/name": "CoreDNS"},
                              annotations={"prometheus.io/port": "9153",
                                           "prometheus.io/scrape": "true"}),
            "spec": {"selector": dict(COREDNS_LABELS), "clusterIP": cluster_ip,
                     "clusterIPs": [cluster_ip],
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP",
                                "targetPort": 53},
                               {"name": "metrics", "port": 9153, "protocol": "TCP",
                                "targetPort": 9153}]}}


def addon_objects(replicas: int = 2, cluster_ip: str = KUBE_DNS_IP) -> list[tuple[str, Obj]]:
    """(resource, object) in creation order (``ADDON_ORDER``)."""
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("coredns")}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("coredns"),
          "data": {"Corefile": COREFILE}}
    return [("serviceaccounts", sa), *_rbac(), ("configmaps", cm),
            ("deployments", coredns_deployment(replicas)), ("services",
                                                             kube_dns_service(cluster_ip))]


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj) -> str:
    """``controller.ComputeHash``'s shape: FNV-32a, then ``rand.SafeEncodeString``."""
    digits = str(_fnv32a(json.dumps(template, sort_keys=True).encode()))
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in digits)


def random_suffix(rng: random.Random, n: int = 5) -> str:
    """``utilrand.String(n)``: what generateName appends."""
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(n))


def bare_pod(deployment: Obj, rng: random.Random, node: str | None) -> Obj:
    """A pod of the Deployment's template, named as its ReplicaSet would name it; bound to
    ``node`` when given (no scheduler runs), else left for the scheduler."""
    template = deployment["spec"]["template"]
    h = template_hash(template)
    meta = deployment["metadata"]
    labels = {**(template.get("metadata") or {}).get("labels", {}), "pod-template-hash": h}
    spec = json.loads(json.dumps(template["spec"]))
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{meta['name']}-{h}-{random_suffix(rng)}",
                         "namespace": meta.get("namespace") or "default", "labels": labels},
            "spec": spec}
