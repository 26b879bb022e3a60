"""The default RBAC policy kube-apiserver writes at start-up, as dicts ready to store.

What it is: ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy`` (cluster roles, their
bindings, the ``system:controller:*`` roles of kube-controller-manager's controllers
with their service-account bindings, and the roles in kube-system and kube-public),
transcribed from the policy Kubernetes ships (its testdata YAML, v1.33 era), without the
feature-gated extras (DRA, alpha APIs). Rule order, verbs and resources are Kubernetes'.

One deliberate difference, off by default in spirit but on by default here: Kubernetes
binds ``system:node`` to nobody and leaves kubelets to the Node authorizer, which
kubetwin does not have; ``bootstrap_policy(node_authorizer=False)`` binds it to the
``system:nodes`` group, as Kubernetes did before 1.8. Pass ``node_authorizer=True`` for
the exact modern binding.

Concurrency model: none; functions return fresh dicts on every call.

Invariants: every object carries ``kubernetes.io/bootstrapping: rbac-defaults`` and
``rbac.authorization.kubernetes.io/autoupdate: "true"``; the aggregated roles (admin,
edit, view) come with their rules filled, as the clusterrole-aggregation controller
leaves them in a running cluster.
"""

from __future__ import annotations

from typing import Any

from ._rbac import aggregate_cluster_roles

__all__ = ["bootstrap_policy", "cluster_roles", "controller_roles", "system_priority_classes"]

RBAC = "rbac.authorization.k8s.io"
_API_VERSION = f"{RBAC}/v1"
_R = "get list watch"
_RW = "create delete deletecollection get list patch update watch"
_W = "create delete deletecollection patch update"
_EVENTS = ("create patch update", " events.k8s.io", "events")


def rule(verbs: str, groups: str, resources: str, names: str = "") -> dict[str, Any]:
    """A PolicyRule from space-separated words; an API group "" is written as a leading
    space or the word '""'."""
    out: dict[str, Any] = {
        "apiGroups": ["" if g == '""' else g for g in (groups.split(" ") if groups else [""])],
        "resources": resources.split(), "verbs": verbs.split()}
    if names:
        out["resourceNames"] = names.split()
    return out


def urls(verbs: str, paths: str) -> dict[str, Any]:
    return {"nonResourceURLs": paths.split(), "verbs": verbs.split()}


def _events() -> dict[str, Any]:
    return rule(*_EVENTS)


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                  aggregate: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": _API_VERSION, "kind": "ClusterRole",
                           "metadata": _meta(name, labels=labels), "rules": rules}
    if aggregate:
        obj["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"{RBAC}/aggregate-to-{aggregate}": "true"}}]}
    return obj


def _agg(to: str) -> dict[str, str]:
    return {f"{RBAC}/aggregate-to-{to}": "true"}


def _subject(kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": RBAC, "kind": kind, "name": name}


def _binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
             namespace: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": _API_VERSION, "kind": kind,
                           "metadata": _meta(name, namespace),
                           "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role}}
    if subjects:
        obj["subjects"] = subjects
    return obj


def _view_rules() -> list[dict[str, Any]]:
    return [
        rule(_R, "", "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status "
             "pods replicationcontrollers replicationcontrollers/scale serviceaccounts services "
             "services/status"),
        rule(_R, "", "bindings events limitranges namespaces/status pods/log pods/status "
             "replicationcontrollers/status resourcequotas resourcequotas/status"),
        rule(_R, "", "namespaces"),
        rule(_R, "discovery.k8s.io", "endpointslices"),
        rule(_R, "apps", "controllerrevisions daemonsets daemonsets/status deployments "
             "deployments/scale deployments/status replicasets replicasets/scale "
             "replicasets/status statefulsets statefulsets/scale statefulsets/status"),
        rule(_R, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
        rule(_R, "batch", "cronjobs cronjobs/status jobs jobs/status"),
        rule(_R, "extensions", "daemonsets daemonsets/status deployments deployments/scale "
             "deployments/status ingresses ingresses/status networkpolicies replicasets "
             "replicasets/scale replicasets/status replicationcontrollers/scale"),
        rule(_R, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
        rule(_R, "networking.k8s.io", "ingresses ingresses/status networkpolicies"),
    ]


def _edit_rules() -> list[dict[str, Any]]:
    return [
        rule(_R, "", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"),
        rule("impersonate", "", "serviceaccounts"),
        rule(_W, "", "pods pods/attach pods/exec pods/portforward pods/proxy"),
        rule("create", "", "pods/eviction"),
        rule(_W, "", "configmaps events persistentvolumeclaims replicationcontrollers "
             "replicationcontrollers/scale secrets serviceaccounts services services/proxy"),
        rule("create", "", "serviceaccounts/token"),
        rule(_W, "apps", "daemonsets deployments deployments/rollback deployments/scale "
             "replicasets replicasets/scale statefulsets statefulsets/scale"),
        rule(_W, "autoscaling", "horizontalpodautoscalers"),
        rule(_W, "batch", "cronjobs jobs"),
        rule(_W, "extensions", "daemonsets deployments deployments/rollback deployments/scale "
             "ingresses networkpolicies replicasets replicasets/scale "
             "replicationcontrollers/scale"),
        rule(_W, "policy", "poddisruptionbudgets"),
        rule(_W, "networking.k8s.io", "ingresses networkpolicies"),
        rule(_RW, "coordination.k8s.io", "leases"),
    ]


def _scheduler_rules() -> list[dict[str, Any]]:
    return [
        _events(),
        rule("create", "coordination.k8s.io", "leases"),
        rule("get update", "coordination.k8s.io", "leases", "kube-scheduler"),
        rule(_R, "", "nodes"),
        rule("delete get list watch", "", "pods"),
        rule("create", "", "bindings pods/binding"),
        rule("patch update", "", "pods/status"),
        rule(_R, "", "replicationcontrollers services"),
        rule(_R, "apps extensions", "replicasets"),
        rule(_R, "apps", "statefulsets"),
        rule(_R, "policy", "poddisruptionbudgets"),
        rule(_R, "", "persistentvolumeclaims persistentvolumes"),
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        rule(_R, "storage.k8s.io", "csinodes"),
        rule(_R, "", "namespaces"),
        rule(_R, "storage.k8s.io", "csidrivers"),
        rule(_R, "storage.k8s.io", "csistoragecapacities"),
    ]


def _node_rules() -> list[dict[str, Any]]:
    return [
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", "localsubjectaccessreviews subjectaccessreviews"),
        rule(_R, "", "services"),
        rule("create get list watch", "", "nodes"),
        rule("patch update", "", "nodes/status"),
        rule("patch update", "", "nodes"),
        rule("create patch update", "", "events"),
        rule(_R, "", "pods"),
        rule("create delete", "", "pods"),
        rule("patch update", "", "pods/status"),
        rule("create", "", "pods/eviction"),
        rule(_R, "", "configmaps secrets"),
        rule("get", "", "persistentvolumeclaims persistentvolumes"),
        rule("get", "", "endpoints"),
        rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests"),
        rule("create delete get patch update", "coordination.k8s.io", "leases"),
        rule("get", "storage.k8s.io", "volumeattachments"),
        rule("create", "", "serviceaccounts/token"),
        rule("get patch update", "", "persistentvolumeclaims/status"),
        rule(_R, "storage.k8s.io", "csidrivers"),
        rule("create delete get patch update", "storage.k8s.io", "csinodes"),
        rule(_R, "node.k8s.io", "runtimeclasses"),
    ]


def _kcm_rules() -> list[dict[str, Any]]:
    return [
        _events(),
        rule("create", "coordination.k8s.io", "leases"),
        rule("get update", "coordination.k8s.io", "leases", "kube-controller-manager"),
        rule("create", "", "secrets serviceaccounts"),
        rule("delete", "", "secrets"),
        rule("get", "", "configmaps namespaces secrets serviceaccounts"),
        rule("update", "", "secrets serviceaccounts"),
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        rule("list watch", "*", "*"),
        rule("create", "", "serviceaccounts/token"),
    ]


def _signer_approver(signer: str) -> dict[str, Any]:
    return rule("approve", "certificates.k8s.io", "signers", f"kubernetes.io/{signer}")


def cluster_roles() -> list[dict[str, Any]]:
    """``bootstrappolicy.ClusterRoles()``; admin/edit/view with empty rules (aggregated)."""
    csr = "system:certificates.k8s.io:"
    return [
        _cluster_role("admin", [], aggregate="admin"),
        _cluster_role("cluster-admin", [rule("*", "*", "*"), urls("*", "*")]),
        _cluster_role("edit", [], _agg("admin"), aggregate="edit"),
        _cluster_role("system:aggregate-to-admin", [
            rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
            rule(_RW, RBAC, "rolebindings roles")], _agg("admin")),
        _cluster_role("system:aggregate-to-edit", _edit_rules(), _agg("edit")),
        _cluster_role("system:aggregate-to-view", _view_rules(), _agg("view")),
        _cluster_role("system:auth-delegator", [
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews")]),
        _cluster_role("system:basic-user", [
            rule("create", "authorization.k8s.io",
                 "selfsubjectaccessreviews selfsubjectrulesreviews"),
            rule("create", "authentication.k8s.io", "selfsubjectreviews")]),
        _cluster_role(csr + "certificatesigningrequests:nodeclient", [
            rule("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient")]),
        _cluster_role(csr + "certificatesigningrequests:selfnodeclient", [
            rule("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient")]),
        _cluster_role(csr + "kube-apiserver-client-approver",
                      [_signer_approver("kube-apiserver-client")]),
        _cluster_role(csr + "kube-apiserver-client-kubelet-approver",
                      [_signer_approver("kube-apiserver-client-kubelet")]),
        _cluster_role(csr + "kubelet-serving-approver", [_signer_approver("kubelet-serving")]),
        _cluster_role(csr + "legacy-unknown-approver", [_signer_approver("legacy-unknown")]),
        _cluster_role("system:discovery", [urls(
            "get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz "
            "/version /version/")]),
        _cluster_role("system:heapster", [rule(_R, "", "events namespaces nodes pods"),
                                          rule(_R, "extensions", "deployments")]),
        _cluster_role("system:kube-aggregator", [rule(_R, "", "endpoints services")]),
        _cluster_role("system:kube-controller-manager", _kcm_rules()),
        _cluster_role("system:kube-dns", [rule("list watch", "", "endpoints services")]),
        _cluster_role("system:kube-scheduler", _scheduler_rules()),
        _cluster_role("system:kubelet-api-admin", [
            rule(_R, "", "nodes"), rule("proxy", "", "nodes"),
            rule("*", "", "nodes/log nodes/metrics nodes/proxy nodes/stats")]),
        _cluster_role("system:monitoring", [urls(
            "get", "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz "
            "/readyz/*")]),
        _cluster_role("system:node", _node_rules()),
        _cluster_role("system:node-bootstrapper", [
            rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests")]),
        _cluster_role("system:node-problem-detector", [
            rule("get", "", "nodes"), rule("patch", "", "nodes/status"), _events()]),
        _cluster_role("system:node-proxier", [
            rule("list watch", "", "endpoints services"), rule(_R, "", "nodes"), _events(),
            rule("list watch", "discovery.k8s.io", "endpointslices")]),
        _cluster_role("system:persistent-volume-provisioner", [
            rule("create delete get list watch", "", "persistentvolumes"),
            rule("get list update watch", "", "persistentvolumeclaims"),
            rule(_R, "storage.k8s.io", "storageclasses"),
            rule("watch", "", "events"), _events()]),
        _cluster_role("system:public-info-viewer", [
            urls("get", "/healthz /livez /readyz /version /version/")]),
        _cluster_role("system:service-account-issuer-discovery", [
            urls("get", "/.well-known/openid-configuration /openid/v1/jwks")]),
        _cluster_role("system:volume-scheduler", [
            rule("get list patch update watch", "", "persistentvolumes"),
            rule(_R, "storage.k8s.io", "storageclasses"),
            rule("get list patch update watch", "", "persistentvolumeclaims")]),
        _cluster_role("view", [], _agg("edit"), aggregate="view"),
    ]


# kube-controller-manager's controllers: name -> rules (controller_policy.go).
_GC = "delete get list patch update watch"


def _controller_rules() -> dict[str, list[dict[str, Any]]]:
    apps = "apps extensions"
    return {
        "attachdetach-controller": [
            rule("list watch", "", "persistentvolumeclaims persistentvolumes"),
            rule(_R, "", "nodes"), rule("patch update", "", "nodes/status"),
            rule("list watch", "", "pods"), _events(),
            rule("create delete get list watch", "storage.k8s.io", "volumeattachments"),
            rule(_R, "storage.k8s.io", "csidrivers"), rule(_R, "storage.k8s.io", "csinodes")],
        "certificate-controller": [
            rule("delete get list watch", "certificates.k8s.io", "certificatesigningrequests"),
            rule("update", "certificates.k8s.io",
                 "certificatesigningrequests/approval certificatesigningrequests/status"),
            rule("approve", "certificates.k8s.io", "signers",
                 "kubernetes.io/kube-apiserver-client-kubelet"),
            rule("sign", "certificates.k8s.io", "signers",
                 "kubernetes.io/kube-apiserver-client kubernetes.io/kube-apiserver-client-kubelet"
                 " kubernetes.io/kubelet-serving kubernetes.io/legacy-unknown"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"), _events()],
        "clusterrole-aggregation-controller": [
            rule("escalate get list patch update watch", RBAC, "clusterroles")],
        "cronjob-controller": [
            rule("get list update watch", "batch", "cronjobs"),
            rule("create delete get list patch update watch", "batch", "jobs"),
            rule("update", "batch", "cronjobs/status"), rule("update", "batch", "cronjobs/finalizers"),
            rule("delete list watch", "", "pods"), _events()],
        "daemon-set-controller": [
            rule(_R, apps, "daemonsets"), rule("update", apps, "daemonsets/status"),
            rule("update", apps, "daemonsets/finalizers"), rule("list watch", "", "nodes"),
            rule("create delete list patch watch", "", "pods"),
            rule("create", "", "pods/binding"),
            rule("create delete get list patch update watch", "apps", "controllerrevisions"),
            _events()],
        "deployment-controller": [
            rule("get list update watch", apps, "deployments"),
            rule("update", apps, "deployments/status"),
            rule("update", apps, "deployments/finalizers"),
            rule("create delete get list patch update watch", apps, "replicasets"),
            rule("get list update watch", "", "pods"), _events()],
        "device-taint-eviction-controller": [
            rule("delete get list watch", "", "pods"), rule("patch update", "", "pods/status"),
            rule(_R, "resource.k8s.io", "resourceclaims"),
            rule(_R, "resource.k8s.io", "resourceslices"),
            rule(_R, "resource.k8s.io", "deviceclasses"), _events()],
        "disruption-controller": [
            rule(_R, apps, "deployments"), rule(_R, apps, "replicasets"),
            rule(_R, "", "replicationcontrollers"), rule(_R, "policy", "poddisruptionbudgets"),
            rule(_R, "apps", "statefulsets"),
            rule("update", "policy", "poddisruptionbudgets/status"),
            rule("patch update", "", "pods/status"), rule("get", "*", "*/scale"), _events()],
        "endpoint-controller": [
            rule(_R, "", "pods services"),
            rule("create delete get list update watch", "", "endpoints"),
            rule("create", "", "endpoints/restricted"), _events()],
        "endpointslice-controller": [
            rule(_R, "", "nodes pods services"), rule("update", "", "services/finalizers"),
            rule("create delete get list update watch", "discovery.k8s.io", "endpointslices"),
            _events()],
        "endpointslicemirroring-controller": [
            rule(_R, "", "endpoints services"), rule("update", "", "services/finalizers"),
            rule("update", "", "endpoints/finalizers"),
            rule("create delete get list update watch", "discovery.k8s.io", "endpointslices"),
            _events()],
        "ephemeral-volume-controller": [
            rule(_R, "", "pods"), rule("update", "", "pods/finalizers"),
            rule("create get list watch", "", "persistentvolumeclaims"), _events()],
        "expand-controller": [
            rule("get list patch update watch", "", "persistentvolumes"),
            rule("patch update", "", "persistentvolumeclaims/status"),
            rule(_R, "", "persistentvolumeclaims"), _events()],
        "generic-garbage-collector": [rule(_GC, "*", "*"), _events()],
        "horizontal-pod-autoscaler": [
            rule(_R, "autoscaling", "horizontalpodautoscalers"),
            rule("update", "autoscaling", "horizontalpodautoscalers/status"),
            rule("get update", "*", "*/scale"), rule("list watch", "", "pods"),
            rule("list watch", "metrics.k8s.io", "pods"),
            rule(_R, "custom.metrics.k8s.io", "*"), rule(_R, "external.metrics.k8s.io", "*"),
            _events()],
        "job-controller": [
            rule("get list patch update watch", "batch", "jobs"),
            rule("update", "batch", "jobs/status"), rule("update", "batch", "jobs/finalizers"),
            rule("create delete list patch watch", "", "pods"), _events()],
        "legacy-service-account-token-cleaner": [
            rule("get", "", "configmaps",
                 "kube-apiserver-legacy-service-account-token-tracking"),
            rule("delete patch", "", "secrets")],
        "namespace-controller": [
            rule("delete get list watch", "", "namespaces"),
            rule("update", "", "namespaces/finalize namespaces/status"),
            rule("delete deletecollection get list watch", "*", "*")],
        "node-controller": [
            rule("delete get list patch update watch", "", "nodes"),
            rule("patch update", "", "nodes/status"), rule("patch update", "", "pods/status"),
            rule("delete get list watch", "", "pods"), _events()],
        "persistent-volume-binder": [
            rule("create delete get list update watch", "", "persistentvolumes"),
            rule("update", "", "persistentvolumes/status"),
            rule("get list update watch", "", "persistentvolumeclaims"),
            rule("update", "", "persistentvolumeclaims/status"),
            rule("create delete get list watch", "", "pods"),
            rule(_R, "storage.k8s.io", "storageclasses"), rule("list watch", "", "nodes"),
            _events(), rule("watch", "", "events")],
        "pod-garbage-collector": [
            rule("delete list watch", "", "pods"), rule(_R, "", "nodes"),
            rule("patch", "", "pods/status")],
        "pv-protection-controller": [
            rule("get list update watch", "", "persistentvolumes"), _events()],
        "pvc-protection-controller": [
            rule("get list update watch", "", "persistentvolumeclaims"),
            rule("update", "", "persistentvolumeclaims/status"), rule(_R, "", "pods"),
            _events()],
        "replicaset-controller": [
            rule("get list update watch", apps, "replicasets"),
            rule("update", apps, "replicasets/status"),
            rule("update", apps, "replicasets/finalizers"),
            rule("create delete list patch watch", "", "pods"), _events()],
        "replication-controller": [
            rule("get list update watch", "", "replicationcontrollers"),
            rule("update", "", "replicationcontrollers/status"),
            rule("update", "", "replicationcontrollers/finalizers"),
            rule("create delete list patch watch", "", "pods"), _events()],
        "resource-claim-controller": [
            rule(_R, "", "pods"), rule("update", "", "pods/finalizers"),
            rule("create delete get list watch", "resource.k8s.io", "resourceclaims"),
            rule("patch update", "resource.k8s.io", "resourceclaims resourceclaims/status"),
            rule("patch update", "", "pods/status"), _events(),
            rule("patch update", "resource.k8s.io", "resourceclaims/binding")],
        "resourcequota-controller": [
            rule("list watch", "*", "*"), rule("update", "", "resourcequotas/status"),
            _events()],
        "root-ca-cert-publisher": [rule("create update", "", "configmaps"), _events()],
        "route-controller": [
            rule("list watch", "", "nodes"), rule("patch", "", "nodes/status"), _events()],
        "selinux-warning-controller": [
            _events(), rule(_R, "", "persistentvolumes"),
            rule(_R, "", "persistentvolumeclaims"), rule(_R, "", "pods"),
            rule(_R, "storage.k8s.io", "csidrivers")],
        "service-account-controller": [rule("create", "", "serviceaccounts"), _events()],
        "service-cidrs-controller": [
            rule("get list patch update watch", "networking.k8s.io", "servicecidrs"),
            rule("patch update", "networking.k8s.io", "servicecidrs/finalizers"),
            rule("patch update", "networking.k8s.io", "servicecidrs/status"),
            rule(_R, "networking.k8s.io", "ipaddresses"), _events()],
        "service-controller": [
            rule(_R, "", "services"), rule("patch update", "", "services/status"),
            rule("list watch", "", "nodes"), _events()],
        "statefulset-controller": [
            rule("list watch", "", "pods"), rule(_R, "apps", "statefulsets"),
            rule("update", "apps", "statefulsets/status"),
            rule("update", "apps", "statefulsets/finalizers"),
            rule("create delete get patch update", "", "pods"),
            rule("create delete get list patch update watch", "apps", "controllerrevisions"),
            rule("create get list watch", "", "persistentvolumeclaims"),
            rule("delete update", "", "persistentvolumeclaims"),
            rule("update", "", "pods/finalizers"), _events()],
        "ttl-after-finished-controller": [
            rule("delete get list watch", "batch", "jobs"), _events()],
        "ttl-controller": [rule("list patch update watch", "", "nodes"), _events()],
        "validatingadmissionpolicy-status-controller": [
            rule(_R, "admissionregistration.k8s.io", "validatingadmissionpolicies"),
            rule("get patch update", "admissionregistration.k8s.io",
                 "validatingadmissionpolicies/status"), _events()],
        "volumeattributesclass-protection-controller": [
            rule(_R, "", "persistentvolumeclaims"), rule(_R, "", "persistentvolumes"),
            rule("get list update watch", "storage.k8s.io", "volumeattributesclasses"),
            _events()],
    }


def controller_roles() -> list[dict[str, Any]]:
    """``ControllerRoles()``: ``system:controller:<controller>`` cluster roles."""
    return [_cluster_role(f"system:controller:{name}", rules)
            for name, rules in _controller_rules().items()]


def _cluster_role_bindings(node_authorizer: bool) -> list[dict[str, Any]]:
    def crb(name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
        return _binding("ClusterRoleBinding", name, "ClusterRole", name, list(subjects))

    def group(n: str) -> dict[str, Any]:
        return _subject("Group", n)

    def user(n: str) -> dict[str, Any]:
        return _subject("User", n)

    nodes = () if node_authorizer else (group("system:nodes"),)
    return [
        crb("cluster-admin", group("system:masters")),
        crb("system:monitoring", group("system:monitoring")),
        crb("system:discovery", group("system:authenticated")),
        crb("system:basic-user", group("system:authenticated")),
        crb("system:public-info-viewer", group("system:authenticated"),
            group("system:unauthenticated")),
        crb("system:node-proxier", user("system:kube-proxy")),
        crb("system:kube-controller-manager", user("system:kube-controller-manager")),
        crb("system:kube-dns", _subject("ServiceAccount", "kube-dns", "kube-system")),
        crb("system:kube-scheduler", user("system:kube-scheduler")),
        crb("system:volume-scheduler", user("system:kube-scheduler")),
        crb("system:node", *nodes),
        crb("system:service-account-issuer-discovery", group("system:serviceaccounts")),
    ] + [crb(f"system:controller:{name}", _subject("ServiceAccount", name, "kube-system"))
         for name in _controller_rules()]


def _namespaced() -> list[dict[str, Any]]:
    leases = [rule("create get list update watch", "coordination.k8s.io", "leases"),
              rule("create get list update watch", "coordination.k8s.io", "leasecandidates")]
    sa = "ServiceAccount"

    def role(ns: str, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return {"apiVersion": _API_VERSION, "kind": "Role", "metadata": _meta(name, ns),
                "rules": rules}

    def rb(ns: str, name: str, role_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
        return _binding("RoleBinding", name, "Role", role_name, list(subjects), ns)

    ks, kp, signer = "kube-system", "kube-public", "system:controller:bootstrap-signer"
    kcm, sched = _subject("User", "system:kube-controller-manager"), _subject(
        "User", "system:kube-scheduler")
    return [
        role(kp, signer, [rule(_R, "", "configmaps"),
                          rule("update", "", "configmaps", "cluster-info"), _events()]),
        role(ks, "extension-apiserver-authentication-reader", [
            rule(_R, "", "configmaps", "extension-apiserver-authentication")]),
        role(ks, "system::leader-locking-kube-controller-manager", leases),
        role(ks, "system::leader-locking-kube-scheduler", [dict(r) for r in leases]),
        role(ks, signer, [rule(_R, "", "secrets")]),
        role(ks, "system:controller:cloud-provider", [
            rule("create get list watch", "", "configmaps")]),
        role(ks, "system:controller:token-cleaner", [
            rule("delete get list watch", "", "secrets"), _events()]),
        rb(kp, signer, signer, _subject(sa, "bootstrap-signer", ks)),
        rb(ks, "system::extension-apiserver-authentication-reader",
           "extension-apiserver-authentication-reader", kcm, sched),
        rb(ks, "system::leader-locking-kube-controller-manager",
           "system::leader-locking-kube-controller-manager", kcm,
           _subject(sa, "kube-controller-manager", ks),
           _subject(sa, "leader-election-controller", ks)),
        rb(ks, "system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
           sched, _subject(sa, "kube-scheduler", ks)),
        rb(ks, signer, signer, _subject(sa, "bootstrap-signer", ks)),
        rb(ks, "system:controller:cloud-provider", "system:controller:cloud-provider",
           _subject(sa, "cloud-provider", ks)),
        rb(ks, "system:controller:token-cleaner", "system:controller:token-cleaner",
           _subject(sa, "token-cleaner", ks)),
    ]


def bootstrap_policy(*, node_authorizer: bool = False) -> list[dict[str, Any]]:
    """Every RBAC object of the default policy: cluster roles (aggregated rules filled),
    controller roles, cluster role bindings, then kube-system/kube-public roles and
    role bindings."""
    roles = aggregate_cluster_roles(cluster_roles() + controller_roles())
    return roles + _cluster_role_bindings(node_authorizer) + _namespaced()


def system_priority_classes() -> list[dict[str, Any]]:
    """The scheduling.k8s.io/v1 PriorityClasses the apiserver creates at start-up."""
    def pc(name: str, value: int, description: str) -> dict[str, Any]:
        return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value,
                "preemptionPolicy": "PreemptLowerPriority", "description": description}

    return [
        pc("system-node-critical", 2000001000,
           "Used for system critical pods that must not be moved from their current node."),
        pc("system-cluster-critical", 2000000000,
           "Used for system critical pods that must run in the cluster, but can be moved to "
           "another node if necessary."),
    ]
