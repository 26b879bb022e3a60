"""Image names, the registry's answers (the seed's `ningx`), and per-node pull timing."""

import pytest

from actors.kubelet import (
    PAUSE_IMAGE,
    ImageCache,
    ImageRegistry,
    InvalidImageName,
    default_registry,
    image_digest,
    normalize_image,
)

NGINX_SIZE = 187_694_648
NINGX_ERROR = (
    'failed to pull and unpack image "docker.io/library/ningx:latest": failed to resolve '
    'reference "docker.io/library/ningx:latest": pull access denied, repository does not exist '
    "or may require authorization: server message: insufficient_scope: authorization failed")


@pytest.mark.parametrize("name, ref", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("luksa/kubia", "docker.io/luksa/kubia:latest"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    ("registry.k8s.io/coredns/coredns:v1.11.1", "registry.k8s.io/coredns/coredns:v1.11.1"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("nginx@sha256:" + "a" * 64, "docker.io/library/nginx@sha256:" + "a" * 64),
])
def test_normalization(name, ref):
    assert normalize_image(name) == ref


@pytest.mark.parametrize("name, message", [
    ("Nginx", "invalid reference format: repository name (library/Nginx) must be lowercase"),
    ("", "invalid reference format"),
    ("nginx:", "invalid reference format"),
    ("ng inx", "invalid reference format"),
    ("nginx@sha256:xyz", "invalid reference format"),
])
def test_invalid_names(name, message):
    with pytest.raises(InvalidImageName) as e:
        normalize_image(name)
    assert str(e.value) == message


def test_the_seeds_typo_fails_with_containerds_words():
    info, error = default_registry().resolve("ningx")
    assert info is None
    assert error == NINGX_ERROR


def test_unknown_outside_docker_hub_and_unknown_tags_are_not_found():
    reg = default_registry()
    assert reg.resolve("registry.k8s.io/nope:1")[1] == (
        'failed to pull and unpack image "registry.k8s.io/nope:1": failed to resolve reference '
        '"registry.k8s.io/nope:1": registry.k8s.io/nope:1: not found')
    reg.register("example.com/team/app", size=10, tags=["v1"])
    assert reg.resolve("example.com/team/app:v1")[0] is not None
    assert reg.resolve("example.com/team/app:v2")[1].endswith("example.com/team/app:v2: not found")
    assert reg.resolve("nginx:1.14.2")[0] is not None  # built-ins accept any tag


def test_builtins_have_realistic_sizes_and_ports():
    reg = default_registry()
    nginx = reg.lookup("nginx")
    assert nginx is not None and nginx.size == NGINX_SIZE and nginx.ports == (80,)
    assert reg.lookup("luksa/kubia").ports == (8080,)
    assert reg.lookup("kubia").app == "kubia"
    for name in ("busybox", "registry.k8s.io/etcd:3.5.12-0", "registry.k8s.io/kube-apiserver:v1.31.0",
                 "registry.k8s.io/kube-controller-manager:v1.31.0", "registry.k8s.io/kube-proxy:v1.31.0",
                 "registry.k8s.io/kube-scheduler:v1.31.0", "gcr.io/k8s-minikube/storage-provisioner:v5",
                 "kubernetesui/dashboard:v2.7.0", "alpine", "redis", "httpd", PAUSE_IMAGE,
                 "registry.k8s.io/coredns/coredns:v1.11.1", "registry.k8s.io/kube-addon-manager:v9.0.2"):
        info = reg.lookup(name)
        assert info is not None and info.size > 0, name


def test_pull_time_is_latency_plus_size_over_bandwidth():
    cache = ImageCache()
    r = cache.pull("nginx", 100.0)
    assert r.ok and r.started_at == 100.0
    assert r.done_at == pytest.approx(100.0 + 0.3 + NGINX_SIZE / 200e6)
    assert r.size == NGINX_SIZE and r.image == "docker.io/library/nginx:latest"
    assert r.image_id == "docker.io/library/nginx@" + image_digest("nginx")
    assert not cache.present("nginx", 101.0)
    assert cache.present("nginx:latest", r.done_at)


def test_pulls_are_serialized_per_node():
    cache = ImageCache()
    a = cache.pull("nginx", 0.0)
    b = cache.pull("redis", 0.0)
    assert b.started_at == a.done_at
    assert b.total_duration == pytest.approx(b.done_at)  # includes the wait behind nginx
    assert b.pull_duration == pytest.approx(0.3 + 116_808_162 / 200e6)
    c = cache.pull("busybox", 10.0)  # the queue is empty again
    assert c.started_at == 10.0


def test_parallel_pulls_when_not_serialized():
    cache = ImageCache(serialize=False, latency=1.0, bandwidth=100e6)
    a, b = cache.pull("nginx", 0.0), cache.pull("redis", 0.0)
    assert a.started_at == b.started_at == 0.0
    assert a.done_at == pytest.approx(1.0 + NGINX_SIZE / 100e6)


def test_repulling_a_present_image_only_checks_the_manifest():
    cache = ImageCache()
    first = cache.pull("nginx", 0.0)
    again = cache.pull("nginx", 50.0)
    assert again.ok and again.pull_duration == pytest.approx(0.3)
    queued = ImageCache()
    one, two = queued.pull("nginx", 0.0), queued.pull("nginx", 0.0)
    assert two.started_at == one.done_at and two.pull_duration == pytest.approx(0.3)
    assert first.done_at == one.done_at


def test_failed_pull_takes_the_latency_and_leaves_nothing():
    cache = ImageCache()
    r = cache.pull("ningx", 5.0)
    assert not r.ok and r.done_at == pytest.approx(5.3) and r.error == NINGX_ERROR
    assert not cache.present("ningx", 100.0)
    assert cache.pulls() == (r,)


def test_preloaded_and_registered_images():
    cache = ImageCache(preloaded=[PAUSE_IMAGE, "nginx:1.25"])
    assert cache.present(PAUSE_IMAGE, -1e9) and cache.present("nginx:1.25", 0.0)
    assert not cache.present("nginx", 0.0)
    reg = ImageRegistry()
    reg.register("myorg/api:v2", size=50_000_000, app="server", ports=[8000])
    mine = ImageCache(registry=reg, preloaded=())
    r = mine.pull("myorg/api:v2", 0.0)
    assert r.ok and r.done_at == pytest.approx(0.55)
    assert mine.images(1.0) == (("docker.io/myorg/api:v2", 50_000_000),)
    mine.remove("myorg/api:v2")
    assert mine.images(1.0) == ()
    with pytest.raises(ValueError):
        ImageCache(registry=reg, preloaded=["nginx"])


def test_digests_are_stable():
    assert image_digest("nginx") == image_digest("docker.io/library/nginx:latest")
    assert image_digest("nginx") != image_digest("nginx:1.25")
    assert image_digest("nginx").startswith("sha256:") and len(image_digest("nginx")) == 71
