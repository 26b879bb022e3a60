"""Server-side printing: Kubernetes' column sets (printers.go) and the cells computed
from sample objects; ages are relative to an injected ``now``."""

from __future__ import annotations

import pytest

from actors.live import TABLE_RESOURCES, column_definitions, human_duration, table_for
from actors.live._tables import table_row

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
T0 = "2025-12-31T23:55:00Z"  # five minutes before NOW
META = {"name": "x", "namespace": "default", "creationTimestamp": T0, "uid": "u1",
        "resourceVersion": "7", "labels": {"app": "web"}}
TEMPLATE = {"spec": {"containers": [{"name": "a", "image": "nginx"},
                                    {"name": "b", "image": "busybox"}]}}


def _headers(resource: str, priority: int | None = None) -> list[str]:
    return [c["name"].upper() for c in column_definitions(resource)
            if priority is None or c["priority"] == priority]


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"),
    (150, "2m30s"), (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"),
    (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"), (731 * 86400, "2y1d"),
    (8 * 365 * 86400, "8y"),
])
def test_human_duration_is_kubernetes(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


# resource -> (columns without -o wide, the -o wide extras, a sample object, expected cells)
CASES: dict[str, tuple[str, str, dict, list]] = {
    "pods": ("NAME READY STATUS RESTARTS AGE", "IP NODE NOMINATED NODE READINESS GATES",
             {"metadata": META, "spec": {"nodeName": "node-1", "containers": [{}, {}],
                                         "readinessGates": [{"conditionType": "x/y"}]},
              "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}],
                         "conditions": [{"type": "Ready", "status": "True"},
                                        {"type": "x/y", "status": "True"}],
                         "containerStatuses": [
                             {"name": "a", "ready": True, "restartCount": 2,
                              "state": {"running": {}},
                              "lastState": {"terminated": {"finishedAt": "2025-12-31T23:58:00Z"}}},
                             {"name": "b", "ready": True, "restartCount": 0,
                              "state": {"running": {}}}]}},
             ["x", "2/2", "Running", "2 (2m ago)", "5m", "10.0.0.5", "node-1", "<none>", "1/1"]),
    "deployments": ("NAME READY UP-TO-DATE AVAILABLE AGE", "CONTAINERS IMAGES SELECTOR",
                    {"metadata": META, "spec": {"replicas": 3, "template": TEMPLATE,
                                                "selector": {"matchLabels": {"app": "web"}}},
                     "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}},
                    ["x", "2/3", 3, 2, "5m", "a,b", "nginx,busybox", "app=web"]),
    "replicasets": ("NAME DESIRED CURRENT READY AGE", "CONTAINERS IMAGES SELECTOR",
                    {"metadata": META, "spec": {"replicas": 3, "template": TEMPLATE,
                                                "selector": {"matchLabels": {"app": "web"}}},
                     "status": {"replicas": 3, "readyReplicas": 1}},
                    ["x", 3, 3, 1, "5m", "a,b", "nginx,busybox", "app=web"]),
    "replicationcontrollers": ("NAME DESIRED CURRENT READY AGE", "CONTAINERS IMAGES SELECTOR",
                               {"metadata": META, "spec": {"replicas": 1, "template": TEMPLATE,
                                                           "selector": {"app": "web"}}},
                               ["x", 1, 0, 0, "5m", "a,b", "nginx,busybox", "app=web"]),
    "statefulsets": ("NAME READY AGE", "CONTAINERS IMAGES",
                     {"metadata": META, "spec": {"replicas": 2, "template": TEMPLATE}},
                     ["x", "0/2", "5m", "a,b", "nginx,busybox"]),
    "daemonsets": ("NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE",
                   "CONTAINERS IMAGES SELECTOR",
                   {"metadata": META, "spec": {"template": TEMPLATE, "selector": {}},
                    "status": {"desiredNumberScheduled": 3, "numberReady": 2}},
                   ["x", 3, 0, 2, 0, 0, "<none>", "5m", "a,b", "nginx,busybox", "<none>"]),
    "jobs": ("NAME STATUS COMPLETIONS DURATION AGE", "CONTAINERS IMAGES SELECTOR",
             {"metadata": META, "spec": {"completions": 2, "template": TEMPLATE},
              "status": {"succeeded": 2, "startTime": T0, "completionTime": "2025-12-31T23:56:40Z",
                         "conditions": [{"type": "Complete", "status": "True"}]}},
             ["x", "Complete", "2/2", "100s", "5m", "a,b", "nginx,busybox", "<none>"]),
    "cronjobs": ("NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE",
                 "CONTAINERS IMAGES SELECTOR",
                 {"metadata": META, "spec": {"schedule": "*/5 * * * *", "suspend": False,
                                             "jobTemplate": {"spec": {"template": TEMPLATE}}}},
                 ["x", "*/5 * * * *", "<none>", "False", 0, "<none>", "5m", "a,b",
                  "nginx,busybox", "<none>"]),
    "services": ("NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE", "SELECTOR",
                 {"metadata": META, "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.10"],
                                             "ports": [{"port": 80, "nodePort": 30080,
                                                        "protocol": "TCP"},
                                                       {"port": 53, "protocol": "UDP"}],
                                             "selector": {"b": "2", "a": "1"}}},
                 ["x", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "5m",
                  "a=1,b=2"]),
    "endpoints": ("NAME ENDPOINTS AGE", "",
                  {"metadata": META, "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"}
                                                                for i in range(1, 5)],
                                                  "ports": [{"port": 80}]}]},
                  ["x", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...", "5m"]),
    "endpointslices": ("NAME ADDRESSTYPE PORTS ENDPOINTS AGE", "",
                       {"metadata": META, "addressType": "IPv4", "ports": [{"port": 80}],
                        "endpoints": [{"addresses": ["10.0.0.1"]}]},
                       ["x", "IPv4", "80", "10.0.0.1", "5m"]),
    "nodes": ("NAME STATUS ROLES AGE VERSION",
              "INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME",
              {"metadata": {**META, "labels": {"node-role.kubernetes.io/control-plane": ""}},
               "spec": {"unschedulable": True},
               "status": {"conditions": [{"type": "Ready", "status": "True"}],
                          "addresses": [{"type": "InternalIP", "address": "192.168.49.2"}],
                          "nodeInfo": {"kubeletVersion": "v1.32.0"}}},
              ["x", "Ready,SchedulingDisabled", "control-plane", "5m", "v1.32.0",
               "192.168.49.2", "<none>", "<unknown>", "<unknown>", "<unknown>"]),
    "events": ("LAST SEEN TYPE REASON OBJECT MESSAGE", "SUBOBJECT SOURCE FIRST SEEN COUNT NAME",
               {"metadata": META, "type": "Normal", "reason": "Scheduled",
                "involvedObject": {"kind": "Pod", "name": "web-1"},
                "source": {"component": "default-scheduler"}, "firstTimestamp": T0,
                "lastTimestamp": "2025-12-31T23:59:00Z", "count": 3,
                "message": "Successfully assigned default/web-1 to node-1 "},
               ["60s", "Normal", "Scheduled", "pod/web-1", "", "default-scheduler",
                "Successfully assigned default/web-1 to node-1", "5m", 3, "x"]),
    "namespaces": ("NAME STATUS AGE", "", {"metadata": META, "status": {"phase": "Active"}},
                   ["x", "Active", "5m"]),
    "secrets": ("NAME TYPE DATA AGE", "", {"metadata": META, "type": "Opaque",
                                           "data": {"a": "eA=="}}, ["x", "Opaque", 1, "5m"]),
    "configmaps": ("NAME DATA AGE", "", {"metadata": META, "data": {"a": "1"},
                                        "binaryData": {"b": "eA=="}}, ["x", 2, "5m"]),
    "serviceaccounts": ("NAME SECRETS AGE", "", {"metadata": META}, ["x", 0, "5m"]),
    "persistentvolumes": ("NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS "
                          "VOLUMEATTRIBUTESCLASS REASON AGE", "VOLUMEMODE",
                          {"metadata": META, "spec": {
                              "capacity": {"storage": "1Gi"},
                              "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                              "persistentVolumeReclaimPolicy": "Retain",
                              "claimRef": {"namespace": "default", "name": "data"},
                              "storageClassName": "standard"},
                           "status": {"phase": "Bound"}},
                          ["x", "1Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard",
                           "<unset>", "", "5m", "<unset>"]),
    "persistentvolumeclaims": ("NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS "
                               "VOLUMEATTRIBUTESCLASS AGE", "VOLUMEMODE",
                               {"metadata": META, "spec": {"volumeName": "pv-1",
                                                           "storageClassName": "standard"},
                                "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                                           "accessModes": ["ReadWriteOnce"]}},
                               ["x", "Bound", "pv-1", "1Gi", "RWO", "standard", "<unset>", "5m",
                                "<unset>"]),
    "componentstatuses": ("NAME STATUS MESSAGE ERROR", "",
                          {"metadata": {"name": "etcd-0"},
                           "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]},
                          ["etcd-0", "Healthy", "ok", ""]),
    "controllerrevisions": ("NAME CONTROLLER REVISION AGE", "",
                            {"metadata": {**META, "ownerReferences": [
                                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds",
                                 "controller": True}]}, "revision": 4},
                            ["x", "daemonset.apps/ds", 4, "5m"]),
    "leases": ("NAME HOLDER AGE", "", {"metadata": META, "spec": {"holderIdentity": "cm-1"}},
               ["x", "cm-1", "5m"]),
    "rolebindings": ("NAME ROLE AGE", "USERS GROUPS SERVICEACCOUNTS",
                     {"metadata": META, "roleRef": {"kind": "Role", "name": "r"},
                      "subjects": [{"kind": "User", "name": "u"}, {"kind": "Group", "name": "g"},
                                   {"kind": "ServiceAccount", "name": "sa",
                                    "namespace": "kube-system"}]},
                     ["x", "Role/r", "5m", "u", "g", "kube-system/sa"]),
    "clusterrolebindings": ("NAME ROLE AGE", "USERS GROUPS SERVICEACCOUNTS",
                            {"metadata": META, "roleRef": {"kind": "ClusterRole", "name": "r"}},
                            ["x", "ClusterRole/r", "5m", "", "", ""]),
    "storageclasses": ("NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION "
                       "AGE", "",
                       {"metadata": {**META, "annotations": {
                           "storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "k8s.io/minikube-hostpath"},
                       ["x (default)", "k8s.io/minikube-hostpath", "Delete", "Immediate", False,
                        "5m"]),
    "poddisruptionbudgets": ("NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE", "",
                             {"metadata": META, "spec": {"minAvailable": 2},
                              "status": {"disruptionsAllowed": 1}},
                             ["x", "2", "N/A", 1, "5m"]),
    "roles": ("NAME CREATED AT", "", {"metadata": META}, ["x", T0]),
    "clusterroles": ("NAME CREATED AT", "", {"metadata": META}, ["x", T0]),
}


def _split_names(text: str) -> list[str]:
    """Column names as kubectl prints them, for the multi-word ones too."""
    known = ["NOMINATED NODE", "READINESS GATES", "UP-TO-DATE", "NODE SELECTOR",
             "LAST SCHEDULE", "LAST SEEN", "FIRST SEEN", "ACCESS MODES", "RECLAIM POLICY",
             "CREATED AT", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS"]
    for k in known:
        text = text.replace(k, k.replace(" ", "_"))
    return [w.replace("_", " ") for w in text.split()]


def test_every_printed_resource_has_a_case() -> None:
    assert set(TABLE_RESOURCES) | {"roles", "clusterroles"} == set(CASES)


@pytest.mark.parametrize("resource", sorted(CASES))
def test_columns_and_cells(resource: str) -> None:
    narrow, wide, obj, cells = CASES[resource]
    assert _headers(resource, 0) == _split_names(narrow)
    assert _headers(resource, 1) == _split_names(wide)
    assert table_row(resource, obj, NOW)["cells"] == cells


def test_pdb_bounds_print_as_int_or_string() -> None:
    obj = {"metadata": META, "spec": {"maxUnavailable": "25%"}, "status": {}}
    assert table_row("poddisruptionbudgets", obj, NOW)["cells"] == ["x", "N/A", "25%", 0, "5m"]
    (allowed,) = [c for c in column_definitions("poddisruptionbudgets")
                  if c["name"] == "Allowed Disruptions"]
    assert allowed["type"] == "integer"


def test_event_wide_columns_are_interleaved_as_in_kubernetes() -> None:
    assert _headers("events") == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT",
                                  "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]


@pytest.mark.parametrize("status, expected", [
    ({"phase": "Pending", "containerStatuses": [
        {"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}, "ImagePullBackOff"),
    ({"phase": "Running", "containerStatuses": [
        {"state": {"terminated": {"exitCode": 137, "signal": 9}}}]}, "Signal:9"),
    ({"phase": "Running", "containerStatuses": [
        {"state": {"terminated": {"exitCode": 2}}}]}, "ExitCode:2"),
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}]}, "Init:0/1"),
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
     "Init:Error"),
    ({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]},
     "SchedulingGated"),
    ({"phase": "Failed", "reason": "Evicted"}, "Evicted"),
    ({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
      "containerStatuses": [{"ready": True, "state": {"running": {}}},
                            {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]},
     "NotReady"),
])
def test_pod_status_reason(status: dict, expected: str) -> None:
    pod = {"metadata": META, "spec": {"containers": [{"name": "a"}],
                                      "initContainers": [{"name": "init"}]}, "status": status}
    assert table_row("pods", pod, NOW)["cells"][2] == expected


def test_terminating_pod_and_unknown_age() -> None:
    pod = {"metadata": {"name": "p", "deletionTimestamp": T0}, "status": {"phase": "Running"}}
    cells = table_row("pods", pod, NOW)["cells"]
    assert cells[2] == "Terminating" and cells[4] == "<unknown>"


def test_table_for_a_list_carries_metadata_and_partial_objects() -> None:
    body = {"kind": "PodList", "metadata": {"resourceVersion": "42"},
            "items": [{"metadata": META, "status": {"phase": "Succeeded"}}]}
    table = table_for("pods", body, NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    row = table["rows"][0]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": META}
    assert row["conditions"][0]["reason"] == "Succeeded"
    assert table["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0}


def test_table_include_object_and_headers() -> None:
    obj = {"metadata": META}
    assert "object" not in table_for("pods", obj, NOW, include_object="None")["rows"][0]
    assert table_for("pods", obj, NOW, include_object="Object")["rows"][0]["object"] is obj
    assert table_for("pods", obj, NOW, headers=False)["columnDefinitions"] == []
