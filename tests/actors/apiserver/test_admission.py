"""Each admission plugin, and the chain's mutate-then-validate order."""

from __future__ import annotations

import copy
import random

import pytest

from actors.api import ApiError
from actors.apiserver._admission import (
    AdmissionAttributes,
    AdmissionChain,
    AdmissionPlugin,
    DefaultTolerationSeconds,
    LimitRanger,
    NamespaceLifecycle,
    Priority,
    ResourceQuota,
    ServiceAccount,
    default_plugins,
    pod_requests,
)


def pod(name="web", ns="default", containers=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": containers or [{"name": "nginx", "image": "nginx"}], **spec}}


def ctr(name="nginx", requests=None, limits=None, **kw):
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "image": "nginx", **({"resources": res} if res else {}), **kw}


def create(obj, resource="pods", ns="default", **kw):
    return AdmissionAttributes(operation="CREATE", resource=resource, namespace=ns, object=obj,
                               **kw)


def forbidden(fn, *args):
    with pytest.raises(ApiError) as e:
        fn(*args)
    return e.value


# --- NamespaceLifecycle -----------------------------------------------------------------

NAMESPACES = {"default": {"metadata": {"name": "default"}, "status": {"phase": "Active"}},
              "old": {"metadata": {"name": "old"}, "status": {"phase": "Terminating"}}}


def test_create_in_a_missing_namespace_is_not_found():
    nl = NamespaceLifecycle(NAMESPACES.get)
    e = forbidden(nl.mutate, create(pod(ns="x"), ns="x"))
    assert (e.code, e.reason, e.message) == (404, "NotFound", 'namespaces "x" not found')


def test_create_in_a_terminating_namespace_is_forbidden_with_a_cause():
    nl = NamespaceLifecycle(NAMESPACES.get)
    e = forbidden(nl.mutate, create(pod(ns="old"), ns="old"))
    assert e.code == 403
    assert e.message == ('pods "web" is forbidden: unable to create new content in namespace old '
                         'because it is being terminated')
    assert e.details.causes[0].type == "NamespaceTerminating"
    # updates and deletes in a terminating namespace are still allowed
    nl.mutate(AdmissionAttributes(operation="UPDATE", resource="pods", namespace="old",
                                  name="web", object=pod(ns="old")))
    nl.mutate(AdmissionAttributes(operation="DELETE", resource="pods", namespace="old", name="w"))


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_immortal_namespaces_cannot_be_deleted(name):
    nl = NamespaceLifecycle(NAMESPACES.get)
    e = forbidden(nl.mutate, AdmissionAttributes(operation="DELETE", resource="namespaces",
                                                 name=name))
    assert e.message == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    nl.mutate(AdmissionAttributes(operation="DELETE", resource="namespaces", name="old"))


def test_cluster_scoped_objects_and_namespaces_pass():
    nl = NamespaceLifecycle(lambda n: None)
    assert nl.mutate(create({"metadata": {"name": "n1"}}, "nodes", ns="")) is None
    assert nl.mutate(create({"metadata": {"name": "x"}}, "namespaces", ns="")) is None


# --- ServiceAccount ---------------------------------------------------------------------

ACCOUNTS = {("default", "default"): {"metadata": {"name": "default"}},
            ("default", "builder"): {"metadata": {"name": "builder"},
                                     "imagePullSecrets": [{"name": "regcred"}]},
            ("default", "quiet"): {"metadata": {"name": "quiet"},
                                   "automountServiceAccountToken": False}}


def sa_plugin():
    return ServiceAccount(lambda ns, n: ACCOUNTS.get((ns, n)), random.Random(7))


def test_service_account_defaults_and_projected_token_volume():
    original = pod(initContainers=[ctr("init")])
    out = sa_plugin().mutate(create(original))
    spec = out["spec"]
    assert spec["serviceAccountName"] == "default"
    (vol,) = spec["volumes"]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == 21
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}],
                       "name": "kube-root-ca.crt"}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1",
                                                 "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}}]}
    mount = {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
             "name": vol["name"], "readOnly": True}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert "volumes" not in original["spec"]  # the input is untouched


def test_the_volume_name_is_reproducible_from_the_seed():
    a = sa_plugin().mutate(create(pod()))["spec"]["volumes"][0]["name"]
    b = sa_plugin().mutate(create(pod()))["spec"]["volumes"][0]["name"]
    assert a == b


def test_image_pull_secrets_come_from_the_account_and_automount_can_be_off():
    out = sa_plugin().mutate(create(pod(serviceAccountName="builder")))
    assert out["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    out = sa_plugin().mutate(create(pod(serviceAccountName="quiet")))
    assert "volumes" not in out["spec"]
    out = sa_plugin().mutate(create(pod(automountServiceAccountToken=False)))
    assert "volumes" not in out["spec"]


def test_an_existing_mount_at_the_token_path_is_respected():
    c = ctr(volumeMounts=[{"name": "mine", "mountPath":
                           "/var/run/secrets/kubernetes.io/serviceaccount"}])
    out = sa_plugin().mutate(create(pod(containers=[c], volumes=[{"name": "mine",
                                                                  "emptyDir": {}}])))
    assert [v["name"] for v in out["spec"]["volumes"]] == ["mine"]


def test_a_missing_service_account_is_forbidden():
    e = forbidden(sa_plugin().mutate, create(pod(serviceAccountName="ghost")))
    assert e.message == ('pods "web" is forbidden: error looking up service account '
                         'default/ghost: serviceaccount "ghost" not found')


def test_mirror_pods_may_not_reference_service_accounts_or_secrets():
    mirror = pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    p = sa_plugin()
    assert p.mutate(create(mirror)) is None
    p.validate(create(mirror))
    e = forbidden(p.validate, create(pod(**{"serviceAccountName": "default"}) | {
        "metadata": mirror["metadata"]}))
    assert e.message.endswith("a mirror pod may not reference service accounts")
    with_secret = copy.deepcopy(mirror)
    with_secret["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "x"}}]
    assert forbidden(p.validate, create(with_secret)).message.endswith(
        "a mirror pod may not reference secrets")


# --- DefaultTolerationSeconds -------------------------------------------------------------


def test_default_tolerations_are_added():
    out = DefaultTolerationSeconds().mutate(create(pod()))
    assert out["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]


def test_existing_tolerations_suppress_the_defaults():
    p = DefaultTolerationSeconds()
    tol = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
            "effect": "NoExecute", "tolerationSeconds": 6000}]
    out = p.mutate(create(pod(tolerations=tol)))
    assert [t["key"] for t in out["spec"]["tolerations"]] == [
        "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
    assert p.mutate(create(pod(tolerations=[{"operator": "Exists"}]))) is None
    assert p.mutate(create({"metadata": {"name": "n"}}, "nodes", ns="")) is None


# --- LimitRanger --------------------------------------------------------------------------


def limit_ranger(*items):
    lr = {"metadata": {"name": "limits"}, "spec": {"limits": list(items)}}
    return LimitRanger(lambda ns: [lr] if ns == "default" else [])


def test_limit_range_defaults_requests_and_limits():
    lr = limit_ranger({"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                       "defaultRequest": {"cpu": "100m"}})
    out = lr.mutate(create(pod(containers=[ctr(limits={"memory": "1Gi"})])))
    res = out["spec"]["containers"][0]["resources"]
    assert res == {"limits": {"memory": "1Gi", "cpu": "500m"},
                   "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert out["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container nginx; "
        "cpu limit for container nginx")


def test_limit_range_max_becomes_the_default_limit_and_request():
    out = limit_ranger({"type": "Container", "max": {"cpu": "2"}}).mutate(create(pod()))
    assert out["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "2"},
                                                         "requests": {"cpu": "2"}}


def test_limit_range_enforces_min_and_max():
    lr = limit_ranger({"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}})
    e = forbidden(lr.validate, create(pod(containers=[ctr(
        requests={"cpu": "500m", "memory": "32Mi"}, limits={"cpu": "2"})])))
    assert e.message == ('pods "web" is forbidden: [minimum memory usage per Container is 64Mi, '
                         'but request is 32Mi, maximum cpu usage per Container is 1, but limit '
                         'is 2]')
    lr.validate(create(pod(containers=[ctr(requests={"cpu": "500m", "memory": "64Mi"},
                                           limits={"cpu": "1"})])))


def test_limit_range_pod_totals_and_ratio():
    lr = limit_ranger({"type": "Pod", "max": {"memory": "1Gi"}})
    two = [ctr("a", limits={"memory": "600Mi"}), ctr("b", limits={"memory": "600Mi"})]
    e = forbidden(lr.validate, create(pod(containers=two)))
    assert e.message.endswith("maximum memory usage per Pod is 1Gi, but limit is 1200Mi")
    ratio = limit_ranger({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}})
    e = forbidden(ratio.validate, create(pod(containers=[ctr(requests={"cpu": "100m"},
                                                             limits={"cpu": "500m"})])))
    assert e.message.endswith("cpu max limit to request ratio per Container is 2, but provided "
                              "ratio is 5.000000")


def test_limit_range_pvc_storage_bounds():
    lr = limit_ranger({"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}})
    pvc = {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "20Gi"}}}}
    e = forbidden(lr.validate, create(pvc, "persistentvolumeclaims"))
    assert e.message == ('persistentvolumeclaims "data" is forbidden: maximum storage usage per '
                         'PersistentVolumeClaim is 10Gi, but request is 20Gi')


def test_pod_requests_counts_init_containers_and_sidecars():
    p = pod(containers=[ctr("a", requests={"cpu": "100m"}), ctr("b", requests={"cpu": "200m"})],
            initContainers=[ctr("init", requests={"cpu": "1"}),
                            ctr("side", requests={"cpu": "50m"}, restartPolicy="Always")],
            overhead={"cpu": "10m"})
    assert str(pod_requests(p)["cpu"]) == "1010m"  # max(350m, 1 + 0) + overhead


# --- ResourceQuota --------------------------------------------------------------------------


def quota(hard, used, name="compute", **spec):
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": "5"},
            "spec": {"hard": hard, **spec}, "status": {"hard": hard, "used": used}}


def test_quota_charges_usage_and_returns_the_updated_quota():
    q = quota({"pods": "3", "requests.cpu": "1", "count/deployments.apps": "1"},
              {"pods": "1", "requests.cpu": "250m", "count/deployments.apps": "0"})
    rq = ResourceQuota(lambda ns: [q])
    (updated,) = rq.validate(create(pod(containers=[ctr(requests={"cpu": "500m"})])))
    assert updated["status"]["used"] == {"pods": "2", "requests.cpu": "750m",
                                         "count/deployments.apps": "0"}
    assert q["status"]["used"]["pods"] == "1"  # the input is untouched
    (updated,) = rq.validate(create({"metadata": {"name": "d"}}, "deployments", group="apps"))
    assert updated["status"]["used"]["count/deployments.apps"] == "1"


def test_quota_exceeded_message():
    q = quota({"pods": "2", "requests.cpu": "1"}, {"pods": "2", "requests.cpu": "800m"})
    e = forbidden(ResourceQuota(lambda ns: [q]).validate,
                  create(pod(containers=[ctr(requests={"cpu": "500m"})])))
    assert e.message == ('pods "web" is forbidden: exceeded quota: compute, requested: '
                         'pods=1,requests.cpu=500m, used: pods=2,requests.cpu=800m, limited: '
                         'pods=2,requests.cpu=1')


def test_quota_on_cpu_requires_every_container_to_request_it():
    q = quota({"requests.cpu": "2", "limits.memory": "1Gi"},
              {"requests.cpu": "0", "limits.memory": "0"})
    e = forbidden(ResourceQuota(lambda ns: [q]).validate,
                  create(pod(containers=[ctr("a"), ctr("b", requests={"cpu": "1"})])))
    assert e.message == ('pods "web" is forbidden: failed quota: compute: must specify '
                         'limits.memory for: a,b; requests.cpu for: a')


def test_quota_without_usage_status_is_refused_and_without_hard_status_ignored():
    q = quota({"pods": "2"}, {})
    e = forbidden(ResourceQuota(lambda ns: [q]).validate, create(pod()))
    assert e.message.endswith("status unknown for quota: compute, resources: pods")
    unsynced = {"metadata": {"name": "new"}, "spec": {"hard": {"pods": "0"}}}
    assert ResourceQuota(lambda ns: [unsynced]).validate(create(pod())) == ()


def test_quota_scopes_and_object_counts():
    best = quota({"pods": "1"}, {"pods": "1"}, "besteffort", scopes=["BestEffort"])
    rq = ResourceQuota(lambda ns: [best])
    rq.validate(create(pod(containers=[ctr(requests={"cpu": "1"})])))  # not BestEffort
    assert forbidden(rq.validate, create(pod())).message.endswith(
        "exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1")
    svc = quota({"services.loadbalancers": "0", "configmaps": "1"},
                {"services.loadbalancers": "0", "configmaps": "1"})
    rq = ResourceQuota(lambda ns: [svc])
    rq.validate(create({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}}, "services"))
    e = forbidden(rq.validate, create({"metadata": {"name": "s"},
                                       "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
                                      "services"))
    assert "requested: services.loadbalancers=1" in e.message
    assert forbidden(rq.validate, create({"metadata": {"name": "c"}}, "configmaps"))
    assert rq.validate(create({"metadata": {"name": "c"}}, "configmaps", ns="")) == ()


def test_quota_update_charges_only_the_increase():
    q = quota({"requests.storage": "10Gi"}, {"requests.storage": "8Gi"})
    old = {"metadata": {"name": "d", "resourceVersion": "3"},
           "spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    new = copy.deepcopy(old)
    new["spec"]["resources"]["requests"]["storage"] = "7Gi"
    a = AdmissionAttributes(operation="UPDATE", resource="persistentvolumeclaims",
                            namespace="default", name="d", object=new, old_object=old)
    (updated,) = ResourceQuota(lambda ns: [q]).validate(a)
    assert updated["status"]["used"]["requests.storage"] == "10Gi"


# --- Priority -------------------------------------------------------------------------------

CLASSES = {"high": {"metadata": {"name": "high"}, "value": 1000},
           "low": {"metadata": {"name": "low"}, "value": 10, "globalDefault": True,
                   "preemptionPolicy": "Never"}}


def prio(classes=CLASSES):
    return Priority(classes.get, lambda: list(classes.values()))


def test_priority_resolves_the_class_name():
    out = prio().mutate(create(pod(priorityClassName="high")))
    assert (out["spec"]["priority"], out["spec"]["preemptionPolicy"]) == (1000, "PreemptLowerPriority")
    out = prio().mutate(create(pod(priorityClassName="system-node-critical")))
    assert out["spec"]["priority"] == 2000001000
    out = prio().mutate(create(pod(priorityClassName="system-cluster-critical")))
    assert out["spec"]["priority"] == 2000000000


def test_priority_uses_the_global_default_or_zero():
    out = prio().mutate(create(pod()))
    assert (out["spec"]["priorityClassName"], out["spec"]["priority"],
            out["spec"]["preemptionPolicy"]) == ("low", 10, "Never")
    out = prio({}).mutate(create(pod()))
    assert out["spec"]["priority"] == 0 and "priorityClassName" not in out["spec"]


def test_priority_rejects_unknown_classes_and_explicit_values():
    e = forbidden(prio().mutate, create(pod(priorityClassName="nope")))
    assert e.message == 'pods "web" is forbidden: no PriorityClass with name nope was found'
    e = forbidden(prio().mutate, create(pod(priorityClassName="high", priority=5)))
    assert e.message.endswith("the integer value of priority (5) must not be provided in pod "
                              "spec; priority admission controller computed 1000 from the given "
                              "PriorityClass name")


def test_priority_keeps_the_priority_on_update_and_allows_one_default():
    old = pod(priority=1000, preemptionPolicy="PreemptLowerPriority")
    out = prio().mutate(AdmissionAttributes(operation="UPDATE", resource="pods",
                                            namespace="default", name="web", object=pod(),
                                            old_object=old))
    assert out["spec"]["priority"] == 1000
    second = {"metadata": {"name": "other"}, "value": 5, "globalDefault": True}
    e = forbidden(prio().validate, create(second, "priorityclasses", ns="",
                                          group="scheduling.k8s.io"))
    assert e.message == ('priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass '
                         'low is already marked as default. Only one default can exist')


# --- the chain --------------------------------------------------------------------------------


class Recorder(AdmissionPlugin):
    def __init__(self, name, record):
        self.name, self.record = name, record

    def mutate(self, a):
        self.record.append(f"mutate {self.name}")
        return {**a.object, "seen": [*a.object.get("seen", []), self.name]}

    def validate(self, a):
        self.record.append(f"validate {self.name} {a.object['seen']}")
        return ()


def test_chain_runs_all_mutations_then_all_validations():
    record = []
    out = AdmissionChain([Recorder("a", record), Recorder("b", record)]).admit(create({}))
    assert out == {"seen": ["a", "b"]}
    assert record == ["mutate a", "mutate b", "validate a ['a', 'b']", "validate b ['a', 'b']"]


def test_default_chain_end_to_end():
    quotas = [quota({"pods": "10", "requests.cpu": "2"}, {"pods": "0", "requests.cpu": "0"})]
    lr = {"metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "defaultRequest": {"cpu": "100m"}}]}}
    chain = AdmissionChain(default_plugins(
        get_namespace=NAMESPACES.get, get_service_account=lambda ns, n: ACCOUNTS.get((ns, n)),
        list_limit_ranges=lambda ns: [lr], list_resource_quotas=lambda ns: quotas,
        get_priority_class=CLASSES.get, list_priority_classes=lambda: [],
        rng=random.Random(3)))
    result = chain.run(create(pod()))
    spec = result.object["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "100m"}
    assert spec["priority"] == 0 and len(spec["tolerations"]) == 2
    assert result.quota_updates[0]["status"]["used"] == {"pods": "1", "requests.cpu": "100m"}
    with pytest.raises(ApiError):
        chain.run(create(pod(ns="old"), ns="old"))


def test_pod_quota_ignores_storage_and_counts_extended_resources():
    q = quota({"requests.storage": "1Gi", "requests.example.com/gpu": "1"},
              {"requests.storage": "0", "requests.example.com/gpu": "1"})
    rq = ResourceQuota(lambda ns: [q])
    assert rq.validate(create(pod())) == ()  # no gpu asked, storage is not a pod resource
    e = forbidden(rq.validate, create(pod(containers=[ctr(requests={"example.com/gpu": "1"},
                                                          limits={"example.com/gpu": "1"})])))
    assert "requested: requests.example.com/gpu=1" in e.message
