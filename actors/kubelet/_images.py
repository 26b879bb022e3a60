"""Container images: names, the registry the twin pulls from, and each node's image store.

What it is:
- ``normalize_image``: docker/distribution's reference normalization, as containerd applies it
  (``nginx`` → ``docker.io/library/nginx:latest``, ``luksa/kubia`` → ``docker.io/luksa/kubia:latest``,
  ``registry.k8s.io/pause:3.9`` unchanged); invalid names raise ``InvalidImageName`` with the
  parser's wording.
- ``ImageRegistry``: the "internet" of images. Built-ins carry realistic sizes (the uncompressed
  size ``docker images`` shows) and a behaviour name that ``_apps`` turns into a running app.
  Users ``register`` their own. Pulling an unknown repository fails with containerd's message
  (``pull access denied, repository does not exist or may require authorization: ...`` on Docker
  Hub, ``not found`` elsewhere).
- ``ImageCache``: one node's containerd image store. ``pull(ref, now)`` returns a ``PullResult``
  saying when the pull starts and ends — no clock: the image is present from ``done_at`` on.
  Pull time = ``latency`` + size / ``bandwidth`` (defaults 0.3 s and 200 MB/s: nginx's 187.7 MB
  takes 1.238 s, the order of a real pull from Docker Hub). A pull of an image already present
  (policy Always) only re-resolves the manifest: ``latency``. A failing pull fails after
  ``latency``. Pulls are serialized per node, as the kubelet's default
  ``serializeImagePulls: true``: each starts when the previous one ends; ``serialize=False``
  runs them in parallel.

Concurrency model: none; plain state, times passed in (seconds since the epoch, virtual).

Invariants: every stored reference is normalized; an image's id (digest) is a pure function of
its reference, so two nodes agree on it; a node's pulls never overlap when serialized.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "BUILTIN_IMAGES",
    "PAUSE_IMAGE",
    "ImageCache",
    "ImageInfo",
    "ImageRegistry",
    "InvalidImageName",
    "PullResult",
    "default_registry",
    "image_digest",
    "normalize_image",
]

PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
_HUB = "docker.io"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class InvalidImageName(ValueError):
    """The image reference does not parse (the kubelet's ``InvalidImageName``)."""


@functools.lru_cache(maxsize=1024)
def _split(name: str) -> tuple[str, str, str, str]:
    """(domain, path, tag, digest) of a reference, normalized; raises InvalidImageName.
    Memoized: a node sees the same few references over and over."""
    if not name or name != name.strip():
        raise InvalidImageName("invalid reference format")
    rest, _, digest = name.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidImageName("invalid reference format")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = ""
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidImageName("invalid reference format")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, remainder
    else:
        domain, path = _HUB, rest
    if domain == "index.docker.io":
        domain = _HUB
    if domain == _HUB and "/" not in path:
        path = "library/" + path
    if path != path.lower():
        raise InvalidImageName(
            f"invalid reference format: repository name ({path}) must be lowercase")
    if not path or not all(_COMPONENT.match(c) for c in path.split("/")):
        raise InvalidImageName("invalid reference format")
    if not tag and not digest:
        tag = "latest"
    return domain, path, tag, digest


def normalize_image(name: str) -> str:
    """The fully qualified reference containerd uses: ``nginx`` → ``docker.io/library/nginx:latest``.

    Raises ``InvalidImageName`` with the reference parser's message.
    """
    domain, path, tag, digest = _split(name)
    ref = f"{domain}/{path}"
    if tag:
        ref += f":{tag}"
    if digest:
        ref += f"@{digest}"
    return ref


def _repository(ref: str) -> str:
    domain, path, _, _ = _split(ref)
    return f"{domain}/{path}"


def image_digest(ref: str) -> str:
    """The image's (manifest) digest: deterministic from the normalized reference."""
    _, _, _, digest = _split(ref)
    if digest:
        return digest
    return "sha256:" + hashlib.sha256(normalize_image(ref).encode()).hexdigest()


@dataclass(frozen=True)
class ImageInfo:
    """An image the registry can serve: its size and how a container made from it behaves.

    `app` names a behaviour in ``_apps`` (``nginx``, ``kubia``, ``shell``, ``server``...);
    `entrypoint` and `cmd` are the image's ENTRYPOINT and CMD; `ports` the ports its default
    process listens on; `shell` whether the image has ``/bin/sh`` (distroless ones do not).
    """

    repository: str
    size: int
    app: str = "server"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    shell: bool = True
    tags: tuple[str, ...] | None = None  # None: any tag resolves


@dataclass(frozen=True)
class PullResult:
    """One pull on one node: asked at `requested_at`, transferring from `started_at`, finished
    (present, or failed with `error`) at `done_at`."""

    image: str
    requested_at: float
    started_at: float
    done_at: float
    ok: bool
    size: int = 0
    image_id: str = ""
    error: str = ""

    @property
    def pull_duration(self) -> float:
        return self.done_at - self.started_at

    @property
    def total_duration(self) -> float:
        """Including the wait behind earlier pulls (the kubelet's "including waiting")."""
        return self.done_at - self.requested_at


def _hub_denied(ref: str) -> str:
    return (f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed")


def _not_found(ref: str) -> str:
    return (f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
            f"{ref}: not found")


class ImageRegistry:
    """Every image the twin can pull, by repository (``docker.io/library/nginx``)."""

    def __init__(self, images: Iterable[ImageInfo] = ()) -> None:
        self._images: dict[str, ImageInfo] = {}
        for info in images:
            self._images[info.repository] = info

    def register(self, name: str, *, size: int, app: str = "server",
                 entrypoint: Iterable[str] = (), cmd: Iterable[str] = (),
                 ports: Iterable[int] = (), shell: bool = True,
                 tags: Iterable[str] | None = None) -> ImageInfo:
        """Make `name` pullable (any tag unless `tags` is given). Returns its info."""
        if size < 0:
            raise ValueError(f"image size must be >= 0, got {size}")
        info = ImageInfo(_repository(name), size, app, tuple(entrypoint), tuple(cmd),
                         tuple(ports), shell, None if tags is None else tuple(tags))
        self._images[info.repository] = info
        return info

    def lookup(self, name: str) -> ImageInfo | None:
        """The info for `name`'s repository, or None when the registry has no such image."""
        try:
            domain, path, tag, _ = _split(name)
        except InvalidImageName:
            return None
        info = self._images.get(f"{domain}/{path}")
        if info is None or (tag and info.tags is not None and tag not in info.tags):
            return None
        return info

    def resolve(self, name: str) -> tuple[ImageInfo | None, str]:
        """(info, "") when `name` can be pulled, else (None, containerd's error text)."""
        ref = normalize_image(name)
        info = self.lookup(ref)
        if info is not None:
            return info, ""
        repo = _repository(ref)
        if repo in self._images or not ref.startswith(_HUB + "/"):
            return None, _not_found(ref)
        return None, _hub_denied(ref)

    def repositories(self) -> tuple[str, ...]:
        return tuple(sorted(self._images))


# name, size in bytes (uncompressed, as `docker images` shows), behaviour, ENTRYPOINT, CMD,
# ports, has a shell. Sizes are those of the images minikube and the seed's era used.
_SERVER = "server"
BUILTIN_IMAGES: tuple[ImageInfo, ...] = tuple(
    ImageInfo(_repository(n), size, app, tuple(ep), tuple(cmd), tuple(ports), shell)
    for n, size, app, ep, cmd, ports, shell in (
        (PAUSE_IMAGE, 744_140, "pause", ["/pause"], [], [], False),
        ("nginx", 187_694_648, "nginx", ["/docker-entrypoint.sh"],
         ["nginx", "-g", "daemon off;"], [80], True),
        ("httpd", 147_963_532, "httpd", [], ["httpd-foreground"], [80], True),
        ("luksa/kubia", 659_840_211, "kubia", [], ["node", "app.js"], [8080], True),
        ("kubia", 659_840_211, "kubia", [], ["node", "app.js"], [8080], True),
        ("busybox", 4_261_550, "shell", [], ["sh"], [], True),
        ("registry.k8s.io/busybox", 2_433_303, "shell", [], ["sh"], [], True),
        ("k8s.gcr.io/busybox", 2_433_303, "shell", [], ["sh"], [], True),
        ("alpine", 7_799_521, "shell", [], ["/bin/sh"], [], True),
        ("ubuntu", 78_118_299, "shell", [], ["/bin/bash"], [], True),
        ("polinux/stress", 9_744_175, "stress", [], ["stress"], [], True),
        ("redis", 116_808_162, "redis", ["docker-entrypoint.sh"], ["redis-server"], [6379], True),
        ("registry.k8s.io/coredns/coredns", 59_820_116, "coredns", ["/coredns"], [],
         [53, 9153], False),
        ("registry.k8s.io/etcd", 148_958_720, "etcd", [], ["etcd"], [2379, 2380, 2381], True),
        ("registry.k8s.io/kube-apiserver", 93_991_648, "kube-apiserver", [],
         ["kube-apiserver"], [8443], False),
        ("registry.k8s.io/kube-controller-manager", 88_432_064, "kube-controller-manager", [],
         ["kube-controller-manager"], [10257], False),
        ("registry.k8s.io/kube-scheduler", 67_446_632, "kube-scheduler", [],
         ["kube-scheduler"], [10259], False),
        ("registry.k8s.io/kube-proxy", 91_536_528, "kube-proxy", [], ["/usr/local/bin/kube-proxy"],
         [10249, 10256], True),
        ("gcr.io/k8s-minikube/storage-provisioner", 31_465_472, "storage-provisioner",
         ["/storage-provisioner"], [], [], False),
        ("kubernetesui/dashboard", 245_820_000, "kubernetes-dashboard", ["/dashboard"],
         ["--insecure-bind-address=0.0.0.0"], [9090], False),
        ("registry.k8s.io/kube-addon-manager", 83_076_028, "addon-manager", [],
         ["/opt/kube-addons.sh"], [], True),
        ("k8s.gcr.io/kube-addon-manager", 83_076_028, "addon-manager", [],
         ["/opt/kube-addons.sh"], [], True),
    )
)


def default_registry() -> ImageRegistry:
    """A registry holding the built-in images (a fresh one: safe to ``register`` into)."""
    return ImageRegistry(BUILTIN_IMAGES)


@dataclass
class _Stored:
    info: ImageInfo
    present_from: float


@dataclass
class ImageCache:
    """One node's image store with pull timing (see the module docstring).

    `preloaded` images are present from the beginning of time (minikube's preload tarball, or
    just the sandbox image).
    """

    registry: ImageRegistry = field(default_factory=default_registry)
    latency: float = 0.3
    bandwidth: float = 200e6
    serialize: bool = True
    preloaded: Iterable[str] = (PAUSE_IMAGE,)
    _store: dict[str, _Stored] = field(default_factory=dict, init=False, repr=False)
    _busy_until: float = field(default=float("-inf"), init=False, repr=False)
    _history: list[PullResult] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.latency < 0 or self.bandwidth <= 0:
            raise ValueError("latency must be >= 0 and bandwidth > 0")
        for name in tuple(self.preloaded):
            info, error = self.registry.resolve(name)
            if info is None:
                raise ValueError(f"cannot preload {name}: {error}")
            self._store[normalize_image(name)] = _Stored(info, float("-inf"))

    def present(self, name: str, now: float) -> bool:
        """Whether the image is in the store at `now` (a pull in flight is not yet)."""
        stored = self._store.get(normalize_image(name))
        return stored is not None and stored.present_from <= now

    def image_id(self, name: str) -> str:
        """What containerd reports as the image's id (``imageID``): repository@digest."""
        ref = normalize_image(name)
        return f"{_repository(ref)}@{image_digest(ref)}"

    def info(self, name: str) -> ImageInfo | None:
        stored = self._store.get(normalize_image(name))
        return stored.info if stored else self.registry.lookup(name)

    def pull(self, name: str, now: float) -> PullResult:
        """Request a pull of `name` at `now`; returns when it starts and ends and whether it
        succeeds. The image is present from ``done_at`` on when it does."""
        ref = normalize_image(name)
        start = max(now, self._busy_until) if self.serialize else now
        info, error = self.registry.resolve(ref)
        if info is None:
            result = PullResult(ref, now, start, start + self.latency, False, error=error)
        else:
            stored = self._store.get(ref)
            # A pull that starts after the image arrived only re-checks the manifest.
            transfer = 0 if stored is not None and stored.present_from <= start else info.size
            done = start + self.latency + transfer / self.bandwidth
            if stored is None or stored.present_from > done:
                self._store[ref] = _Stored(info, done)
            result = PullResult(ref, now, start, done, True, info.size, self.image_id(ref))
        if self.serialize:
            self._busy_until = result.done_at
        self._history.append(result)
        return result

    def remove(self, name: str) -> None:
        """``crictl rmi``: forget the image (image garbage collection)."""
        self._store.pop(normalize_image(name), None)

    def images(self, now: float) -> tuple[tuple[str, int], ...]:
        """(reference, size) of every image present at `now`, sorted."""
        return tuple(sorted((ref, s.info.size) for ref, s in self._store.items()
                            if s.present_from <= now))

    def pulls(self) -> tuple[PullResult, ...]:
        """Every pull requested so far, in order."""
        return tuple(self._history)
