"""The message schemas ``_protobuf`` decodes with: field numbers to JSON names.

What it is: for each message of k8s.io/api and apimachinery that a ``kubectl create``
generator (or ``kubectl create job --from=cronjob/…`` copying a stored CronJob) puts on
the wire, its fields as ``number: (json name, type)``. The numbers are those of the
``generated.proto`` files (``staging/src/k8s.io/api/<group>/<version>/generated.proto``,
apimachinery's ``pkg/apis/meta/v1``); the JSON names those of the Go structs' tags.

Types: ``s`` string, ``b`` bytes (base64 in JSON), ``i`` integer, ``u`` bool, ``t`` Time,
``q`` Quantity, ``x`` IntOrString, ``m:<Msg>`` message, ``M:<key>:<value>`` map; a ``[]``
prefix marks a repeated field, a ``?`` suffix a field whose zero value JSON keeps: a Go
pointer (``replicas: 0``) or a field without ``omitempty`` (PriorityClass ``value: 0``;
a repeated one is ``null`` when absent, ClusterRole ``rules: null``).

Concurrency model: none; constant tables.

Invariants: every ``m:<Msg>`` names a message of ``SCHEMAS``, and every kind of ``KINDS``
is one (checked by the tests).
"""

from __future__ import annotations

__all__ = ["KINDS", "SCHEMAS"]

_META = ("metadata", "m:ObjectMeta")

# apimachinery meta/v1 and the core/v1 pod template every workload embeds.
_MACHINERY = {
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"),
                   4: ("selfLink", "s"), 5: ("uid", "s"), 6: ("resourceVersion", "s"),
                   7: ("generation", "i"), 8: ("creationTimestamp", "t"),
                   9: ("deletionTimestamp", "t"), 10: ("deletionGracePeriodSeconds", "i?"),
                   11: ("labels", "M:s:s"), 12: ("annotations", "M:s:s"),
                   13: ("ownerReferences", "[]m:OwnerReference"), 14: ("finalizers", "[]s")},
    "OwnerReference": {5: ("apiVersion", "s"), 1: ("kind", "s"), 3: ("name", "s"),
                       4: ("uid", "s"), 6: ("controller", "u?"),
                       7: ("blockOwnerDeletion", "u?")},
    "LabelSelector": {1: ("matchLabels", "M:s:s"),
                      2: ("matchExpressions", "[]m:LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "[]s")},
    "Empty": {},
}
_POD = {
    "PodTemplateSpec": {1: _META, 2: ("spec", "m:PodSpec")},
    "PodSpec": {2: ("containers", "[]m:Container?"), 3: ("restartPolicy", "s"),
                4: ("terminationGracePeriodSeconds", "i?"), 5: ("activeDeadlineSeconds", "i?"),
                6: ("dnsPolicy", "s"), 7: ("nodeSelector", "M:s:s"),
                8: ("serviceAccountName", "s"), 9: ("serviceAccount", "s"),
                10: ("nodeName", "s"), 11: ("hostNetwork", "u"), 12: ("hostPID", "u"),
                13: ("hostIPC", "u"), 14: ("securityContext", "m:Empty"),
                15: ("imagePullSecrets", "[]m:LocalObjectReference"), 16: ("hostname", "s"),
                17: ("subdomain", "s"), 19: ("schedulerName", "s"),
                20: ("initContainers", "[]m:Container"),
                21: ("automountServiceAccountToken", "u?"), 22: ("tolerations", "[]m:Toleration"),
                24: ("priorityClassName", "s"), 25: ("priority", "i?"),
                27: ("shareProcessNamespace", "u?"), 29: ("runtimeClassName", "s?"),
                30: ("enableServiceLinks", "u?"), 31: ("preemptionPolicy", "s?")},
    "LocalObjectReference": {1: ("name", "s")},
    "Toleration": {1: ("key", "s"), 2: ("operator", "s"), 3: ("value", "s"), 4: ("effect", "s"),
                   5: ("tolerationSeconds", "i?")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "[]s"), 4: ("args", "[]s"),
                  5: ("workingDir", "s"), 6: ("ports", "[]m:ContainerPort"),
                  7: ("env", "[]m:EnvVar"), 8: ("resources", "m:ResourceRequirements"),
                  13: ("terminationMessagePath", "s"), 14: ("imagePullPolicy", "s"),
                  16: ("stdin", "u"), 17: ("stdinOnce", "u"), 18: ("tty", "u"),
                  20: ("terminationMessagePolicy", "s"), 24: ("restartPolicy", "s?")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"),
                      4: ("protocol", "s"), 5: ("hostIP", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "ResourceRequirements": {1: ("limits", "M:s:q"), 2: ("requests", "M:s:q")},
}
# core/v1 (kubectl create namespace|configmap|secret|service|serviceaccount|quota)
_CORE = {
    "Namespace": {1: _META, 2: ("spec", "m:NamespaceSpec"), 3: ("status", "m:NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "[]s")},
    "NamespaceStatus": {1: ("phase", "s")},
    "ConfigMap": {1: _META, 2: ("data", "M:s:s"), 3: ("binaryData", "M:s:b"),
                  4: ("immutable", "u?")},
    "Secret": {1: _META, 2: ("data", "M:s:b"), 3: ("type", "s"), 4: ("stringData", "M:s:s"),
               5: ("immutable", "u?")},
    "Service": {1: _META, 2: ("spec", "m:ServiceSpec"), 3: ("status", "m:ServiceStatus")},
    "ServiceSpec": {1: ("ports", "[]m:ServicePort"), 2: ("selector", "M:s:s"),
                    3: ("clusterIP", "s"), 4: ("type", "s"), 5: ("externalIPs", "[]s"),
                    7: ("sessionAffinity", "s"), 8: ("loadBalancerIP", "s"),
                    9: ("loadBalancerSourceRanges", "[]s"), 10: ("externalName", "s"),
                    11: ("externalTrafficPolicy", "s"), 12: ("healthCheckNodePort", "i"),
                    13: ("publishNotReadyAddresses", "u"), 17: ("ipFamilyPolicy", "s?"),
                    18: ("clusterIPs", "[]s"), 19: ("ipFamilies", "[]s"),
                    20: ("allocateLoadBalancerNodePorts", "u?"),
                    21: ("loadBalancerClass", "s?"), 22: ("internalTrafficPolicy", "s?")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"),
                    4: ("targetPort", "x"), 5: ("nodePort", "i"), 6: ("appProtocol", "s?")},
    "ServiceStatus": {1: ("loadBalancer", "m:Empty")},
    "ServiceAccount": {1: _META, 2: ("secrets", "[]m:ObjectReference"),
                       3: ("imagePullSecrets", "[]m:LocalObjectReference"),
                       4: ("automountServiceAccountToken", "u?")},
    "ObjectReference": {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s"),
                        4: ("uid", "s"), 5: ("apiVersion", "s"), 6: ("resourceVersion", "s"),
                        7: ("fieldPath", "s")},
    "ResourceQuota": {1: _META, 2: ("spec", "m:ResourceQuotaSpec"),
                      3: ("status", "m:ResourceQuotaStatus")},
    "ResourceQuotaSpec": {1: ("hard", "M:s:q"), 2: ("scopes", "[]s"),
                          3: ("scopeSelector", "m:ScopeSelector")},
    "ScopeSelector": {1: ("matchExpressions", "[]m:ScopedResourceSelectorRequirement")},
    "ScopedResourceSelectorRequirement": {1: ("scopeName", "s?"), 2: ("operator", "s?"),
                                          3: ("values", "[]s")},
    "ResourceQuotaStatus": {1: ("hard", "M:s:q"), 2: ("used", "M:s:q")},
}
# apps/v1 and batch/v1 (kubectl create deployment|job|cronjob, job --from=cronjob/x)
_WORKLOADS = {
    "Deployment": {1: _META, 2: ("spec", "m:DeploymentSpec"),
                   3: ("status", "m:DeploymentStatus")},
    "DeploymentSpec": {1: ("replicas", "i?"), 2: ("selector", "m:LabelSelector"),
                       3: ("template", "m:PodTemplateSpec"), 4: ("strategy", "m:Strategy"),
                       5: ("minReadySeconds", "i"), 6: ("revisionHistoryLimit", "i?"),
                       7: ("paused", "u"), 9: ("progressDeadlineSeconds", "i?")},
    "Strategy": {1: ("type", "s"), 2: ("rollingUpdate", "m:RollingUpdate")},
    "RollingUpdate": {1: ("maxUnavailable", "x"), 2: ("maxSurge", "x")},
    "DeploymentStatus": {},
    "Job": {1: _META, 2: ("spec", "m:JobSpec"), 3: ("status", "m:JobStatus")},
    "JobSpec": {1: ("parallelism", "i?"), 2: ("completions", "i?"),
                3: ("activeDeadlineSeconds", "i?"), 4: ("selector", "m:LabelSelector"),
                5: ("manualSelector", "u?"), 6: ("template", "m:PodTemplateSpec"),
                7: ("backoffLimit", "i?"), 8: ("ttlSecondsAfterFinished", "i?"),
                9: ("completionMode", "s?"), 10: ("suspend", "u?"),
                11: ("podFailurePolicy", "m:PodFailurePolicy"),
                12: ("backoffLimitPerIndex", "i?"), 13: ("maxFailedIndexes", "i?"),
                14: ("podReplacementPolicy", "s?"), 15: ("managedBy", "s?"),
                16: ("successPolicy", "m:SuccessPolicy")},
    "PodFailurePolicy": {1: ("rules", "[]m:PodFailurePolicyRule?")},
    "PodFailurePolicyRule": {1: ("action", "s?"),
                             2: ("onExitCodes", "m:PodFailurePolicyOnExitCodesRequirement"),
                             3: ("onPodConditions",
                                 "[]m:PodFailurePolicyOnPodConditionsPattern")},
    "PodFailurePolicyOnExitCodesRequirement": {1: ("containerName", "s?"),
                                               2: ("operator", "s?"), 3: ("values", "[]i?")},
    "PodFailurePolicyOnPodConditionsPattern": {1: ("type", "s?"), 2: ("status", "s?")},
    "SuccessPolicy": {1: ("rules", "[]m:SuccessPolicyRule?")},
    "SuccessPolicyRule": {1: ("succeededIndexes", "s?"), 2: ("succeededCount", "i?")},
    "JobStatus": {},
    "CronJob": {1: _META, 2: ("spec", "m:CronJobSpec"), 3: ("status", "m:CronJobStatus")},
    "CronJobSpec": {1: ("schedule", "s?"), 8: ("timeZone", "s?"),
                    2: ("startingDeadlineSeconds", "i?"), 3: ("concurrencyPolicy", "s"),
                    4: ("suspend", "u?"), 5: ("jobTemplate", "m:JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", "i?"),
                    7: ("failedJobsHistoryLimit", "i?")},
    "JobTemplateSpec": {1: _META, 2: ("spec", "m:JobSpec")},
    "CronJobStatus": {1: ("active", "[]m:ObjectReference"), 4: ("lastScheduleTime", "t"),
                      5: ("lastSuccessfulTime", "t")},
}
# rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|
# clusterrolebinding); RoleRef's fields and Subject's kind and name have no omitempty.
_RBAC = {
    "Role": {1: _META, 2: ("rules", "[]m:PolicyRule?")},
    "ClusterRole": {1: _META, 2: ("rules", "[]m:PolicyRule?"),
                    3: ("aggregationRule", "m:AggregationRule")},
    "PolicyRule": {1: ("verbs", "[]s?"), 2: ("apiGroups", "[]s"), 3: ("resources", "[]s"),
                   4: ("resourceNames", "[]s"), 5: ("nonResourceURLs", "[]s")},
    "AggregationRule": {1: ("clusterRoleSelectors", "[]m:LabelSelector")},
    "RoleBinding": {1: _META, 2: ("subjects", "[]m:Subject"), 3: ("roleRef", "m:RoleRef")},
    "ClusterRoleBinding": {1: _META, 2: ("subjects", "[]m:Subject"),
                           3: ("roleRef", "m:RoleRef")},
    "Subject": {1: ("kind", "s?"), 2: ("apiGroup", "s"), 3: ("name", "s?"),
                4: ("namespace", "s")},
    "RoleRef": {1: ("apiGroup", "s?"), 2: ("kind", "s?"), 3: ("name", "s?")},
}
_OTHER = {
    # authentication.k8s.io/v1 (kubectl create token)
    "TokenRequest": {1: _META, 2: ("spec", "m:TokenRequestSpec"), 3: ("status", "m:Empty")},
    "TokenRequestSpec": {1: ("audiences", "[]s?"), 4: ("expirationSeconds", "i?"),
                         3: ("boundObjectRef", "m:BoundObjectReference")},
    "BoundObjectReference": {1: ("kind", "s"), 2: ("apiVersion", "s"), 3: ("name", "s"),
                             4: ("uid", "s")},
    # authorization.k8s.io/v1 (kubectl auth can-i)
    "SelfSubjectAccessReview": {1: _META, 2: ("spec", "m:SelfSubjectAccessReviewSpec"),
                                3: ("status", "m:Empty")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "m:ResourceAttributes"),
                                    2: ("nonResourceAttributes", "m:NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"),
                           4: ("version", "s"), 5: ("resource", "s"), 6: ("subresource", "s"),
                           7: ("name", "s")},
    "NonResourceAttributes": {1: ("path", "s"), 2: ("verb", "s")},
    # policy/v1 (kubectl create poddisruptionbudget)
    "PodDisruptionBudget": {1: _META, 2: ("spec", "m:PodDisruptionBudgetSpec"),
                            3: ("status", "m:PodDisruptionBudgetStatus")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "x?"), 2: ("selector", "m:LabelSelector"),
                                3: ("maxUnavailable", "x?"),
                                4: ("unhealthyPodEvictionPolicy", "s?")},
    "PodDisruptionBudgetStatus": {1: ("observedGeneration", "i"), 3: ("disruptionsAllowed", "i"),
                                  4: ("currentHealthy", "i"), 5: ("desiredHealthy", "i"),
                                  6: ("expectedPods", "i")},
    # scheduling.k8s.io/v1 (kubectl create priorityclass): value has no omitempty
    "PriorityClass": {1: _META, 2: ("value", "i?"), 3: ("globalDefault", "u"),
                      4: ("description", "s"), 5: ("preemptionPolicy", "s?")},
}

SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    **_MACHINERY, **_POD, **_CORE, **_WORKLOADS, **_RBAC, **_OTHER}

_RBAC_V1 = "rbac.authorization.k8s.io/v1"
KINDS = frozenset({
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
    ("v1", "ServiceAccount"), ("v1", "ResourceQuota"),
    ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    (_RBAC_V1, "Role"), (_RBAC_V1, "ClusterRole"), (_RBAC_V1, "RoleBinding"),
    (_RBAC_V1, "ClusterRoleBinding"),
    ("authentication.k8s.io/v1", "TokenRequest"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ("policy/v1", "PodDisruptionBudget"), ("scheduling.k8s.io/v1", "PriorityClass"),
})
