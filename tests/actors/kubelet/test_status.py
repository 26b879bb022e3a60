"""PodStatus generation (phase, conditions, containerStatuses, qosClass) and kubectl's
STATUS column."""

import pytest

from actors.kubelet import (
    ContainerView,
    PodRuntimeView,
    pod_columns,
    pod_display_status,
    pod_status,
    qos_class,
    rfc3339,
)

T0 = 1_700_000_000.0
NOW = rfc3339(T0 + 100)
CID = "containerd://" + "ab" * 32


def pod(containers=("app",), inits=(), policy="Always", **meta):
    return {"metadata": {"name": "web", "namespace": "default", "uid": "u1", **meta},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": n, "image": "nginx"} for n in containers],
                     **({"initContainers": [{"name": n, "image": "busybox"} for n in inits]}
                        if inits else {})}}


def running(name="app", ready=True, restarts=0, started=True):
    return ContainerView(name, CID, "running", restarts, "docker.io/library/nginx:latest",
                         "docker.io/library/nginx@sha256:" + "0" * 64, started_at=T0 + 1,
                         ready=ready, started=started)


def exited(name="app", code=0, restarts=0, reason=None, at=T0 + 5):
    return ContainerView(name, CID, "exited", restarts, "docker.io/library/busybox:latest",
                         "x", started_at=T0 + 1, finished_at=at, exit_code=code,
                         reason=reason or ("Completed" if code == 0 else "Error"))


def view(**containers):
    return PodRuntimeView(host_ip="192.168.49.2", pod_ips=("10.244.0.5",), sandbox_ready=True,
                          start_time=T0, containers={k: tuple(v) for k, v in containers.items()})


def status(p, v):
    return pod_status(p, v, NOW)


def conds(st):
    return {c["type"]: (c["status"], c.get("reason"), c.get("message")) for c in st["conditions"]}


def test_running_ready_pod():
    st = status(pod(), view(app=[running()]))
    assert st["phase"] == "Running"
    assert [c["type"] for c in st["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" and c["lastProbeTime"] is None for c in st["conditions"])
    assert (st["hostIP"], st["hostIPs"], st["podIP"], st["podIPs"]) == (
        "192.168.49.2", [{"ip": "192.168.49.2"}], "10.244.0.5", [{"ip": "10.244.0.5"}])
    assert st["startTime"] == rfc3339(T0) and st["qosClass"] == "BestEffort"
    assert st["containerStatuses"] == [{
        "name": "app", "state": {"running": {"startedAt": rfc3339(T0 + 1)}}, "lastState": {},
        "ready": True, "restartCount": 0, "image": "docker.io/library/nginx:latest",
        "imageID": "docker.io/library/nginx@sha256:" + "0" * 64, "containerID": CID,
        "started": True}]


def test_unready_container_and_its_message():
    st = status(pod(("app", "side")), view(app=[running(ready=False)], side=[running("side")]))
    assert conds(st)["ContainersReady"] == ("False", "ContainersNotReady",
                                            "containers with unready status: [app]")
    assert conds(st)["Ready"] == conds(st)["ContainersReady"]


def test_waiting_containers_default_and_with_reasons():
    st = status(pod(), PodRuntimeView(start_time=T0))
    cs = st["containerStatuses"][0]
    assert cs == {"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}},
                  "lastState": {}, "ready": False, "restartCount": 0, "image": "nginx",
                  "imageID": "", "started": False}
    assert st["phase"] == "Pending" and "podIP" not in st
    assert conds(st)["PodReadyToStartContainers"][0] == "False"
    v = PodRuntimeView(waiting={"app": ("ErrImagePull", "failed to pull ...")})
    waiting = status(pod(), v)["containerStatuses"][0]["state"]
    assert waiting == {"waiting": {"reason": "ErrImagePull", "message": "failed to pull ..."}}


def test_crash_loop_shows_waiting_with_the_last_termination():
    v = PodRuntimeView(containers={"app": (exited(code=1, restarts=3),)},
                       waiting={"app": ("CrashLoopBackOff", "back-off 40s restarting failed "
                                        "container=app pod=web_default(u1)")})
    cs = status(pod(), v)["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["restartCount"] == 3
    assert status(pod(), v)["phase"] == "Running"  # Always: restarting


@pytest.mark.parametrize("policy, code, phase", [
    ("Always", 0, "Running"), ("Always", 1, "Running"), ("OnFailure", 0, "Succeeded"),
    ("OnFailure", 1, "Running"), ("Never", 0, "Succeeded"), ("Never", 1, "Failed"),
])
def test_phase_by_restart_policy(policy, code, phase):
    assert status(pod(policy=policy), view(app=[exited(code=code)]))["phase"] == phase


def test_terminal_pods_and_their_conditions():
    st = status(pod(policy="Never"), view(app=[exited()]))
    assert conds(st)["Ready"] == ("False", "PodCompleted", None)
    assert conds(st)["Initialized"] == ("True", "PodCompleted", None)
    failed = status(pod(policy="Never"), view(app=[exited(code=2)]))
    assert conds(failed)["ContainersReady"] == ("False", "PodFailed", None)
    # a deleted Always pod whose containers all stopped is terminal too
    done = pod_status(pod(), PodRuntimeView(containers={"app": (exited(code=137),)},
                                            terminal=True), NOW)
    assert done["phase"] == "Failed"
    deadline = pod_status(pod(), PodRuntimeView(containers={"app": (running(),)},
                                                reason="DeadlineExceeded", message="m"), NOW)
    assert (deadline["phase"], deadline["reason"], deadline["message"]) == (
        "Failed", "DeadlineExceeded", "m")
    sticky = {**pod(), "status": {"phase": "Succeeded"}}
    assert status(sticky, view(app=[running()]))["phase"] == "Succeeded"


def test_init_containers():
    p = pod(inits=("init-a", "init-b"))
    st = status(p, view(**{"init-a": [exited("init-a")], "init-b": [running("init-b")]}))
    assert st["phase"] == "Pending"
    assert conds(st)["Initialized"] == ("False", "ContainersNotInitialized",
                                        "containers with incomplete status: [init-b]")
    inits = st["initContainerStatuses"]
    assert (inits[0]["ready"], inits[1]["ready"]) == (True, False)
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert pod_display_status({**p, "status": st}) == "Init:1/2"
    failed = status(pod(inits=("init-a",), policy="Never"), view(**{"init-a": [exited(
        "init-a", code=1)]}))
    assert failed["phase"] == "Failed"
    assert pod_display_status({**pod(inits=("init-a",)), "status": failed}) == "Init:Error"


def test_transition_times_are_kept_while_status_holds():
    first = status(pod(), view(app=[running(ready=False)]))
    later = pod_status({**pod(), "status": first}, view(app=[running(ready=False)]),
                       rfc3339(T0 + 500))
    assert later["conditions"] == first["conditions"]
    flipped = pod_status({**pod(), "status": first}, view(app=[running()]), rfc3339(T0 + 500))
    times = {c["type"]: c["lastTransitionTime"] for c in flipped["conditions"]}
    assert times["Ready"] == rfc3339(T0 + 500) and times["Initialized"] == NOW


def test_scheduler_condition_ips_and_foreign_conditions_are_preserved():
    old = {"conditions": [{"type": "PodScheduled", "status": "True",
                           "lastTransitionTime": "2020-03-20T08:49:12Z"},
                          {"type": "example.com/gate", "status": "True"}],
           "podIP": "10.244.0.9", "podIPs": [{"ip": "10.244.0.9"}]}
    p = {**pod(), "status": old}
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/gate"}]
    st = status(p, PodRuntimeView(containers={"app": (running(),)}))
    sched = next(c for c in st["conditions"] if c["type"] == "PodScheduled")
    assert sched["lastTransitionTime"] == "2020-03-20T08:49:12Z"
    assert st["conditions"][-1]["type"] == "example.com/gate"
    assert st["podIP"] == "10.244.0.9"
    assert conds(st)["Ready"][0] == "True"
    p["status"]["conditions"][1]["status"] = "False"
    assert conds(status(p, PodRuntimeView(containers={"app": (running(),)})))["Ready"] == (
        "False", "ReadinessGatesNotReady",
        'the status of pod readiness gate "example.com/gate" is not "True", but False')


def test_volume_mounts_are_reported():
    p = pod()
    p["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
         "readOnly": True}]
    cs = status(p, view(app=[running()]))["containerStatuses"][0]
    assert cs["volumeMounts"] == [{"name": "kube-api-access-x", "mountPath":
                                   "/var/run/secrets/kubernetes.io/serviceaccount",
                                   "readOnly": True, "recursiveReadOnly": "Disabled"}]


def res(requests=None, limits=None):
    return {"resources": {k: v for k, v in (("requests", requests), ("limits", limits)) if v}}


@pytest.mark.parametrize("containers, qos", [
    ([{}], "BestEffort"),
    ([res(requests={"cpu": "100m"})], "Burstable"),
    ([res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
    ([res({"cpu": "1000m", "memory": "1024Mi"}, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
    ([res({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], "Burstable"),
    ([res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}), {}], "Burstable"),
    ([res(requests={"ephemeral-storage": "1Gi"})], "BestEffort"),
    ([res({"cpu": "0"}, {"cpu": "0"})], "BestEffort"),
])
def test_qos_class(containers, qos):
    p = {"spec": {"containers": [{"name": f"c{i}", **c} for i, c in enumerate(containers)]}}
    assert qos_class(p) == qos


def cs(state, ready=False, restarts=0, last=None, name="app"):
    return {"name": name, "state": state, "lastState": last or {}, "ready": ready,
            "restartCount": restarts}


@pytest.mark.parametrize("phase, statuses, deleting, expected", [
    ("Pending", [cs({"waiting": {"reason": "ContainerCreating"}})], False,
     ("0/1", "ContainerCreating", "0")),
    ("Pending", [cs({"waiting": {"reason": "ErrImagePull"}})], False, ("0/1", "ErrImagePull", "0")),
    ("Pending", [cs({"waiting": {"reason": "ImagePullBackOff"}})], False,
     ("0/1", "ImagePullBackOff", "0")),
    ("Running", [cs({"running": {}}, ready=True)], False, ("1/1", "Running", "0")),
    ("Running", [cs({"running": {}}, ready=True)], True, ("1/1", "Terminating", "0")),
    ("Running", [cs({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4,
                    last={"terminated": {"exitCode": 1, "finishedAt": rfc3339(T0 + 40)}})],
     False, ("0/1", "CrashLoopBackOff", "4 (60s ago)")),
    ("Succeeded", [cs({"terminated": {"exitCode": 0, "reason": "Completed"}})], True,
     ("0/1", "Completed", "0")),
    ("Failed", [cs({"terminated": {"exitCode": 1, "reason": "Error"}})], False,
     ("0/1", "Error", "0")),
    ("Failed", [cs({"terminated": {"exitCode": 2}})], False, ("0/1", "ExitCode:2", "0")),
    ("Running", [cs({"running": {}}, ready=True, name="a"),
                 cs({"terminated": {"exitCode": 0, "reason": "Completed"}}, name="b")], False,
     ("1/2", "NotReady", "0")),
])
def test_kubectl_columns(phase, statuses, deleting, expected):
    meta = {"name": "web", **({"deletionTimestamp": rfc3339(T0)} if deleting else {})}
    p = {"metadata": meta, "spec": {"containers": [{"name": s["name"]} for s in statuses]},
         "status": {"phase": phase, "containerStatuses": statuses}}
    assert pod_columns(p, T0 + 100) == expected


def test_init_columns():
    spec = {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "app"}]}
    def show(inits, apps=(), conditions=()):
        return pod_display_status({"spec": spec, "status": {
            "phase": "Pending", "initContainerStatuses": list(inits),
            "containerStatuses": list(apps), "conditions": list(conditions)}})
    waiting = {"waiting": {"reason": "PodInitializing"}}
    assert show([cs({"running": {}}, name="i1"), cs(waiting, name="i2")]) == "Init:0/2"
    assert show([cs({"terminated": {"exitCode": 0}}, name="i1"),
                 cs({"waiting": {"reason": "CrashLoopBackOff"}}, name="i2")]) == \
        "Init:CrashLoopBackOff"
    done = [cs({"terminated": {"exitCode": 0}}, name="i1"),
            cs({"terminated": {"exitCode": 0}}, name="i2")]
    assert show(done, [cs(waiting)]) == "PodInitializing"
