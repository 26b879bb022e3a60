"""The pod worker, driven as the kubelet actor will drive it: sync, do the actions, step `now`
to `next_wakeup`. Scenarios from the seed and the Kubernetes documentation."""

from dataclasses import dataclass, field

import pytest

from actors.kubelet import (
    Backoff,
    ContainerRuntime,
    DeletePod,
    ImageCache,
    KillContainer,
    PodWorker,
    ReportStatus,
    SetupNetwork,
    StartContainer,
    TeardownNetwork,
    pod_columns,
    rfc3339,
)

T0 = 1_700_000_000.0
NINGX_ERROR = (
    'failed to pull and unpack image "docker.io/library/ningx:latest": failed to resolve '
    'reference "docker.io/library/ningx:latest": pull access denied, repository does not exist '
    "or may require authorization: server message: insufficient_scope: authorization failed")


def make_pod(name, containers, **spec):
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"containers": containers, **spec}}


@dataclass
class Trace:
    worker: PodWorker
    events: list = field(default_factory=list)  # (t, type, reason, message)
    actions: list = field(default_factory=list)  # (t, action)
    columns: list = field(default_factory=list)  # (t, (READY, STATUS, RESTARTS)) on each report

    def reasons(self):
        return [e[2] for e in self.events]

    def at(self, reason):
        return [round(t, 3) for t, _, r, _ in self.events if r == reason]

    def kinds(self):
        return [type(a).__name__ for _, a in self.actions]

    def statuses(self):
        return [c[1] for _, c in self.columns]


def run(pod, until, *, worker=None, images=None, at=None, ip="10.244.0.5", cni=None):
    """Drive a worker from T0 to T0 + until; `at` maps offsets to interventions f(worker, now)."""
    if worker is None:
        images = images or ImageCache()
        worker = PodWorker(pod, runtime=ContainerRuntime("minikube", images), images=images,
                           node_ip="192.168.49.2")
    trace = Trace(worker)
    pending = sorted((at or {}).items())
    now = T0
    for _ in range(10_000):
        while pending and pending[0][0] + T0 <= now:
            pending.pop(0)[1](worker, now)
        result = worker.sync(now)
        again = False
        for a in result.actions:
            trace.actions.append((now - T0, a))
            if isinstance(a, SetupNetwork):
                error = cni(now) if cni else None
                if error:
                    worker.network_failed(a.sandbox_id, error, now)
                else:
                    worker.network_ready(a.sandbox_id, ip)
                again = True
            if isinstance(a, ReportStatus):
                trace.columns.append((now - T0, pod_columns({**worker.pod, "status": a.status},
                                                            now)))
        trace.events += [(e.time - T0, e.type, e.reason, e.message) for e in result.events]
        if again:
            continue
        wake = result.next_wakeup
        if pending and (wake is None or pending[0][0] + T0 < wake):
            wake = pending[0][0] + T0
        if wake is None or wake > T0 + until:
            return trace
        now = wake
    raise AssertionError("the worker never settled")


def delete(grace=None):
    def f(worker, now):
        meta = dict(worker.pod["metadata"], deletionTimestamp=rfc3339(now))
        g = grace if grace is not None else worker.pod["spec"].get("terminationGracePeriodSeconds",
                                                                   30)
        meta["deletionGracePeriodSeconds"] = g
        worker.update({**worker.pod, "metadata": meta})
    return f


def test_nginx_pulls_creates_starts_and_is_ready():
    t = run(make_pod("nginx", [{"name": "nginx", "image": "nginx"}]), 60)
    assert [(round(x[0], 3), x[1], x[2], x[3]) for x in t.events] == [
        (0.0, "Normal", "Pulling", 'Pulling image "nginx"'),
        (1.238, "Normal", "Pulled", 'Successfully pulled image "nginx" in 1.238s (1.238s '
                                    "including waiting). Image size: 187694648 bytes."),
        (1.238, "Normal", "Created", "Created container nginx"),
        (1.238, "Normal", "Started", "Started container nginx"),
    ]
    assert t.kinds()[:2] == ["SetupNetwork", "ReportStatus"]
    assert "PullImage" in t.kinds() and "StartContainer" in t.kinds()
    assert t.columns[0][1] == ("0/1", "ContainerCreating", "0")
    assert t.columns[-1][1] == ("1/1", "Running", "0")
    st = t.worker.status
    assert st["phase"] == "Running" and st["podIP"] == "10.244.0.5"
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
        "ContainersReady": "True", "PodScheduled": "True"}
    cs = st["containerStatuses"][0]
    assert cs["containerID"].startswith("containerd://") and cs["started"] and cs["ready"]
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert t.worker.runtime.http_get(t.worker.runtime.list_sandboxes()[0].id, 80, "/",
                                     now=T0 + 2).status == 200


def test_the_seeds_ningx_goes_from_errimagepull_to_imagepullbackoff():
    t = run(make_pod("nginx-879cf7b8c-fpfzn", [{"name": "nginx", "image": "ningx"}]), 320)
    pulls = t.at("Pulling")
    assert pulls == [0.0, 10.3, 30.6, 70.9, 151.2, 311.5]
    gaps = [round(b - a, 1) for a, b in zip(pulls, pulls[1:])]
    assert gaps == [10.3, 20.3, 40.3, 80.3, 160.3]  # 0.3 s to fail, then back off 10 s → 160 s
    assert t.events[1] == (pytest.approx(0.3), "Warning", "Failed",
                           f'Failed to pull image "ningx": {NINGX_ERROR}')
    assert t.events[2][2:] == ("Failed", "Error: ErrImagePull")
    backoffs = [e for e in t.events if e[2] == "BackOff"]
    assert backoffs[0][3] == 'Back-off pulling image "ningx"'
    assert t.events[t.events.index(backoffs[0]) + 1][3] == "Error: ImagePullBackOff"
    shown = [s for s in t.statuses() if s != "ContainerCreating"]
    assert shown[:4] == ["ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ImagePullBackOff"]
    waiting = t.worker.status["containerStatuses"][0]["state"]["waiting"]
    assert waiting in ({"reason": "ImagePullBackOff", "message": 'Back-off pulling image "ningx"'},
                       {"reason": "ErrImagePull", "message": NINGX_ERROR})
    assert t.worker.status["phase"] == "Pending"


def test_crashing_container_goes_into_crashloopbackoff():
    spec = [{"name": "app", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "sleep 1; exit 1"]}]
    t = run(make_pod("crash", spec), 200)
    starts = t.at("Started")
    assert [round(s, 3) for s in starts] == [0.321, 1.321, 12.321, 33.321, 74.321, 155.321]
    # exits one second after each start; restarts after 0 (immediately), 10, 20, 40, 80 s
    assert [round(b - a - 1, 3) for a, b in zip(starts, starts[1:])] == [0, 10, 20, 40, 80]
    assert t.events[-1][2:] == ("BackOff", "Back-off restarting failed container app in pod "
                                           "crash_default(uid-crash)")
    cs = t.worker.status["containerStatuses"][0]
    assert cs["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": "back-off 2m40s restarting failed container=app pod=crash_default(uid-crash)"}
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["restartCount"] == 5
    assert pod_columns({**t.worker.pod, "status": t.worker.status}, T0 + 200) == (
        "0/1", "CrashLoopBackOff", "5 (44s ago)")  # finishedAt 156.3 s, printed as 156 s
    assert "Pulled" in t.reasons()  # IfNotPresent: the second start finds the image present
    assert t.events[4][3] == 'Container image "busybox:1.36" already present on machine'


def test_a_job_like_pod_succeeds_and_releases_its_network():
    spec = [{"name": "pi", "image": "busybox", "command": ["sh", "-c", "echo 3.14159; sleep 2"]}]
    t = run(make_pod("pi", spec, restartPolicy="Never"), 60)
    st = t.worker.status
    assert st["phase"] == "Succeeded"
    assert t.columns[-1][1] == ("0/1", "Completed", "0")
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert "TeardownNetwork" in t.kinds() and "DeletePod" not in t.kinds()
    assert t.worker.finished and not t.worker.deleted
    cid = st["containerStatuses"][0]["containerID"].split("//")[1]
    assert t.worker.runtime.logs(cid) == ["3.14159"]


@pytest.mark.parametrize("policy, code, phase, shown, restarts", [
    ("Never", 1, "Failed", "Error", 0),
    ("OnFailure", 0, "Succeeded", "Completed", 0),
    ("OnFailure", 1, "Running", "CrashLoopBackOff", 2),
])
def test_restart_policies(policy, code, phase, shown, restarts):
    spec = [{"name": "app", "image": "busybox", "command": ["sh", "-c", f"exit {code}"]}]
    t = run(make_pod("p", spec, restartPolicy=policy), 15)
    assert t.worker.status["phase"] == phase
    assert t.columns[-1][1][1] == shown
    assert t.worker.status["containerStatuses"][0]["restartCount"] == restarts


def test_liveness_failure_kills_and_restarts():
    # The Kubernetes documentation's exec liveness example.
    spec = [{"name": "liveness", "image": "registry.k8s.io/busybox",
             "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; "
                      "sleep 600"],
             "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                               "initialDelaySeconds": 5, "periodSeconds": 5}}]
    t = run(make_pod("liveness-exec", spec), 100)
    started = t.at("Started")[0]
    unhealthy = [e for e in t.events if e[2] == "Unhealthy"]
    assert [round(e[0] - started, 3) for e in unhealthy[:3]] == [30, 35, 40]
    assert unhealthy[0][1:] == ("Warning", "Unhealthy", "Liveness probe failed: cat: can't open "
                                "'/tmp/healthy': No such file or directory")
    [killing] = [e for e in t.events if e[2] == "Killing"][:1]
    assert killing[3] == "Container liveness failed liveness probe, will be restarted"
    assert round(killing[0] - started, 3) == 40
    # sh as PID 1 ignores SIGTERM: SIGKILL after the 30 s grace period, then an immediate start
    assert round(t.at("Started")[1] - started, 3) == pytest.approx(70.3)
    cs = t.worker.status["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 137
    kill = next(a for _, a in t.actions if isinstance(a, KillContainer))
    assert kill.grace == 30


def test_readiness_gates_ready():
    spec = [{"name": "app", "image": "nginx",
             "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 5}}]
    t = run(make_pod("web", spec), 20)
    st = t.worker.status
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [app]")
    assert st["phase"] == "Running" and t.columns[-1][1] == ("0/1", "Running", "0")
    assert t.events[-1][3] == ('Readiness probe failed: Get "http://10.244.0.5:8080/": dial tcp '
                               "10.244.0.5:8080: connect: connection refused")
    assert "Killing" not in t.reasons()  # readiness never restarts


def test_startup_probe_holds_readiness():
    spec = [{"name": "app", "image": "nginx",
             "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "periodSeconds": 10,
                              "failureThreshold": 30},
             "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 10}}]
    t = run(make_pod("slow", spec), 25, at={15: lambda w, now: w.runtime.exec_sync(
        w.runtime.list_containers()[0].id, ["touch", "/ready"], timeout=1, now=now)})
    cs = t.worker.status["containerStatuses"][0]
    assert cs["started"] and cs["ready"]
    assert ("0/1", "Running", "0") in [c for _, c in t.columns]


def test_init_containers_run_in_order_first():
    spec = dict(initContainers=[
        {"name": "init-myservice", "image": "busybox:1.28", "command": ["sh", "-c", "sleep 2"]},
        {"name": "init-mydb", "image": "busybox:1.28", "command": ["sh", "-c", "sleep 3"]}])
    t = run(make_pod("myapp-pod", [{"name": "myapp", "image": "busybox:1.28",
                                    "command": ["sh", "-c", "echo running; sleep 3600"]}],
                     **spec), 30)
    created = [e[3] for e in t.events if e[2] == "Created"]
    assert created == ["Created container init-myservice", "Created container init-mydb",
                       "Created container myapp"]
    assert [round(x, 3) for x in t.at("Started")] == [0.321, 2.321, 5.321]
    shown = list(dict.fromkeys(t.statuses()))
    assert shown == ["Init:0/2", "Init:1/2", "Running"]
    st = t.worker.status
    assert [c["state"]["terminated"]["reason"] for c in st["initContainerStatuses"]] == [
        "Completed", "Completed"]
    assert next(c for c in st["conditions"] if c["type"] == "Initialized")["status"] == "True"


def test_failing_init_container_with_never_fails_the_pod():
    t = run(make_pod("bad", [{"name": "app", "image": "nginx"}], restartPolicy="Never",
                     initContainers=[{"name": "init", "image": "busybox",
                                      "command": ["sh", "-c", "exit 3"]}]), 30)
    assert t.worker.status["phase"] == "Failed"
    assert t.columns[-1][1][1] == "Init:Error"
    assert "Created container app" not in [e[3] for e in t.events]


def test_graceful_termination_timing():
    nginx = run(make_pod("web", [{"name": "nginx", "image": "nginx"}]), 100,
                at={20: delete()})
    tail = [k for k in nginx.kinds() if k != "ReportStatus"][-3:]
    assert tail == ["KillContainer", "TeardownNetwork", "DeletePod"]
    assert nginx.at("Killing") == [20.0]
    assert nginx.events[-1][3] == "Stopping container nginx"
    deleted_at = next(t for t, a in nginx.actions if isinstance(a, DeletePod))
    assert deleted_at == pytest.approx(20.1)  # nginx shuts down gracefully on its stop signal
    assert nginx.worker.status["phase"] == "Succeeded"
    order = [type(a).__name__ for t, a in nginx.actions if t == deleted_at]
    assert order == ["TeardownNetwork", "ReportStatus", "DeletePod"]
    sleeper = run(make_pod("sleeper", [{"name": "app", "image": "busybox",
                                        "command": ["sleep", "3600"]}]), 100, at={20: delete()})
    assert next(t for t, a in sleeper.actions if isinstance(a, DeletePod)) == 50.0  # SIGKILL
    assert sleeper.worker.status["phase"] == "Failed"
    assert ("1/1", "Terminating", "0") not in [c for _, c in sleeper.columns]  # no new status
    quick = run(make_pod("q", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
                         terminationGracePeriodSeconds=0), 60, at={10: delete()})
    assert next(t for t, a in quick.actions if isinstance(a, DeletePod)) == 12.0  # at least 2 s


def test_prestop_hook_runs_before_the_stop_signal():
    spec = [{"name": "nginx", "image": "nginx",
             "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 5"]}}}}]
    t = run(make_pod("web", spec, terminationGracePeriodSeconds=10), 100, at={20: delete()})
    assert next(t for t, a in t.actions if isinstance(a, DeletePod)) == pytest.approx(25.1)
    long = [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
             "lifecycle": {"preStop": {"sleep": {"seconds": 20}}}}]
    t = run(make_pod("slow", long, terminationGracePeriodSeconds=10), 100, at={20: delete()})
    # the hook eats the whole grace period; SIGKILL comes after the 2 s minimum
    assert next(t for t, a in t.actions if isinstance(a, DeletePod)) == pytest.approx(32.0)


def test_active_deadline_fails_the_pod():
    t = run(make_pod("dl", [{"name": "app", "image": "nginx"}], activeDeadlineSeconds=30), 100)
    assert t.at("DeadlineExceeded") == [30.0]
    assert t.events[t.reasons().index("DeadlineExceeded")][3] == (
        "Pod was active on the node longer than the specified deadline")
    st = t.worker.status
    assert (st["phase"], st["reason"]) == ("Failed", "DeadlineExceeded")
    assert ("1/1", "DeadlineExceeded", "0") in [c for _, c in t.columns]
    assert "TeardownNetwork" in t.kinds() and "DeletePod" not in t.kinds()


def test_cni_failure_is_retried_with_a_new_sandbox():
    failures = iter(["plugin type=\"bridge\" failed (add): no IP addresses available"])
    t = run(make_pod("web", [{"name": "nginx", "image": "nginx"}]), 30,
            cni=lambda now: next(failures, None))
    [failed] = [e for e in t.events if e[2] == "FailedCreatePodSandBox"]
    assert failed[3].startswith('Failed to create pod sandbox: rpc error: code = Unknown desc = '
                                'failed to setup network for sandbox "')
    assert failed[3].endswith('": plugin type="bridge" failed (add): no IP addresses available')
    setups = [(t_, a) for t_, a in t.actions if isinstance(a, SetupNetwork)]
    assert [s[0] for s in setups] == [0.0, 10.0] and setups[0][1].sandbox_id != setups[1][1].sandbox_id
    assert t.worker.status["phase"] == "Running"


def test_a_dead_sandbox_is_recreated():
    def kill_sandbox(worker, now):
        worker.runtime.stop_pod_sandbox(worker.runtime.list_sandboxes()[0].id, now)
    t = run(make_pod("web", [{"name": "nginx", "image": "nginx"}]), 40, at={20: kill_sandbox})
    assert t.at("SandboxChanged") == [20.0]
    assert [k for k in t.kinds() if k in ("SetupNetwork", "TeardownNetwork")] == [
        "SetupNetwork", "TeardownNetwork", "SetupNetwork"]
    cs = t.worker.status["containerStatuses"][0]
    assert cs["state"].get("running") and cs["restartCount"] == 1


def test_pull_policies():
    images = ImageCache(preloaded=["registry.k8s.io/pause:3.9", "nginx:1.25"])
    t = run(make_pod("a", [{"name": "app", "image": "nginx:1.25"}]), 5, images=images)
    assert t.events[0][3] == 'Container image "nginx:1.25" already present on machine'
    t = run(make_pod("b", [{"name": "app", "image": "redis:7", "imagePullPolicy": "Never"}]), 5)
    assert t.events[0][2:] == ("ErrImageNeverPull", 'Container image "redis:7" is not present '
                                                     "with pull policy of Never")
    assert t.columns[-1][1][1] == "ErrImageNeverPull"
    t = run(make_pod("c", [{"name": "app", "image": "Nginx"}]), 5)
    assert t.events[0][2:] == ("InspectFailed", 'Failed to apply default image tag "Nginx": '
                               'couldn\'t parse image name "Nginx": invalid reference format: '
                               "repository name (library/Nginx) must be lowercase")
    assert t.columns[-1][1][1] == "InvalidImageName"


def test_serialized_pulls_across_pods_show_the_wait():
    images = ImageCache()
    rt = ContainerRuntime("minikube", images)
    a = PodWorker(make_pod("a", [{"name": "app", "image": "nginx"}]), runtime=rt, images=images)
    b = PodWorker(make_pod("b", [{"name": "app", "image": "redis"}]), runtime=rt, images=images)
    for w in (a, b):
        for action in w.sync(T0).actions:
            if isinstance(action, SetupNetwork):
                w.network_ready(action.sandbox_id, "10.244.0.9")
        w.sync(T0)
    [req_a, req_b] = images.pulls()
    assert req_b.started_at == req_a.done_at
    events = b.sync(req_b.done_at).events
    assert events[0].message == ('Successfully pulled image "redis" in 884ms (2.122s including '
                                 "waiting). Image size: 116808162 bytes.")


def test_changing_the_image_restarts_the_container():
    def bump(worker, now):
        pod = worker.pod
        spec = {**pod["spec"], "containers": [{"name": "web", "image": "nginx:1.27"}]}
        worker.update({**pod, "spec": spec})
    t = run(make_pod("web", [{"name": "web", "image": "nginx:1.25"}]), 40, at={20: bump})
    assert ("Normal", "Killing", "Container web definition changed, will be restarted") in [
        e[1:] for e in t.events]
    cs = t.worker.status["containerStatuses"][0]
    assert cs["image"] == "docker.io/library/nginx:1.27" and cs["restartCount"] == 1


def test_runs_are_deterministic():
    spec = [{"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 1; exit 1"],
             "readinessProbe": {"exec": {"command": ["true"]}}}]
    one = run(make_pod("d", spec), 120)
    two = run(make_pod("d", spec), 120)
    assert one.events == two.events
    assert [(t, repr(a)) for t, a in one.actions] == [(t, repr(a)) for t, a in two.actions]


def test_shared_backoff_and_startcontainer_actions():
    images = ImageCache()
    rt = ContainerRuntime("minikube", images)
    shared = Backoff()
    w = PodWorker(make_pod("x", [{"name": "app", "image": "busybox",
                                  "command": ["sh", "-c", "exit 1"]}]),
                  runtime=rt, images=images, backoff=shared)
    t = run(None, 15, worker=w)
    assert shared.keys() and shared.keys()[0].startswith("x_default_uid-x_app_")
    assert sum(isinstance(a, StartContainer) for _, a in t.actions) == 3
    assert not any(isinstance(a, TeardownNetwork) for _, a in t.actions)


def test_host_network_pods_ask_for_the_nodes_address():
    t = run(make_pod("etcd-minikube", [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5.12-0",
                                        "command": ["etcd"]}], hostNetwork=True), 10,
            ip="192.168.49.2")
    setup = next(a for _, a in t.actions if isinstance(a, SetupNetwork))
    assert setup.host_network and setup.namespace == "default"
    st = t.worker.status
    assert st["podIP"] == st["hostIP"] == "192.168.49.2"
    assert st["containerStatuses"][0]["ready"]
