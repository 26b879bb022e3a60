"""The kubelet package's public surface, pinned."""

import actors.kubelet as kubelet

EXPECTED = {
    "APPS", "BUILTIN_IMAGES", "CONTAINER_CREATED", "CONTAINER_EXITED", "CONTAINER_RUNNING",
    "FAILURE", "IMAGE_BACKOFF_INITIAL", "IMAGE_BACKOFF_MAX", "LIVENESS", "PAUSE_IMAGE",
    "READINESS", "RESTART_BACKOFF_INITIAL", "RESTART_BACKOFF_MAX", "SANDBOX_NOTREADY",
    "SANDBOX_READY", "STARTUP", "SUCCESS", "UNKNOWN", "AppContext", "AppInstance", "Backoff",
    "ContainerRuntime", "ContainerStatus", "ContainerView", "DeletePod", "Event", "ExecResult",
    "HttpRequest", "HttpResponse", "ImageCache", "ImageInfo", "ImageNotPresent", "ImageRegistry",
    "InvalidImageName", "KillContainer", "NotFound", "PodProbes", "PodRuntimeView", "PodWorker",
    "ProbeOutcome", "ProbeSpec", "ProbeWorker", "PullImage", "PullResult", "ReportStatus",
    "SandboxStatus", "SetupNetwork", "StartContainer", "StartFailure", "SyncResult",
    "TeardownNetwork", "default_registry", "encode_http_response", "evaluate", "go_duration",
    "human_duration", "image_digest", "normalize_image", "parse_http_request", "parse_rfc3339",
    "pod_columns", "pod_display_status", "pod_status", "qos_class", "register_app", "rfc3339",
    "run_exec", "should_restart", "start_app",
}


def test_public_names():
    assert set(kubelet.__all__) == EXPECTED
    assert all(hasattr(kubelet, n) for n in EXPECTED)


def test_kubelet_defaults_match_kubernetes():
    assert (kubelet.RESTART_BACKOFF_INITIAL, kubelet.RESTART_BACKOFF_MAX) == (10.0, 300.0)
    assert (kubelet.IMAGE_BACKOFF_INITIAL, kubelet.IMAGE_BACKOFF_MAX) == (10.0, 300.0)
    assert kubelet.PAUSE_IMAGE == "registry.k8s.io/pause:3.9"
