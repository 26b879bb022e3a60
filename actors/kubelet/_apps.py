"""What the processes inside containers do: the built-in images' behaviour.

What it is: an app is a function ``(AppContext) -> AppInstance``. The instance's ``run`` is a
generator the container runtime steps through in virtual time: it yields effects — ``("sleep",
s)``, ``("log", line, stream)``, ``("listen", port, protocol)``, ``("touch", path, text)``,
``("rm", path)``, ``("alloc", bytes)`` — and returns the exit code. ``http`` answers HTTP
requests on the ports it listens on (used by Services' traffic through netsim and by httpGet
probes), ``exec`` answers app-specific commands (``redis-cli ping``, ``nginx -s quit``), and
``on_sigterm`` says how the process reacts to the stop signal: exit after a delay with a code,
or ignore it (a PID 1 without a handler: only SIGKILL ends it).

The shell (busybox, alpine, ubuntu) is a small interpreter for what pod specs put in
``command``/``args``: ``sleep N``, ``exit N``, ``echo``, ``true``, ``false``, ``touch``, ``rm``,
``cat``, ``test``/``[``, ``ls``, ``date``, ``hostname``, ``trap '...' TERM``, ``VAR=value``,
``$VAR``/``$(cmd)``, ``;``, ``&&``, ``||``, ``while``/``until``/``for``/``if``, ``> file``. It is
the same interpreter for exec probes and preStop hooks, so the documentation's liveness example
(``touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600`` probed by ``cat /tmp/healthy``)
behaves as on a real cluster. A loop iteration that takes no time sleeps 1 s (a real one would
spin; the twin cannot).

Concurrency model: none; generators are driven by one runtime, one step at a time. An app reads
the current virtual time from ``ctx.time``, which the runtime sets before resuming it.

Invariants: apps are deterministic functions of their context; they never read a clock.
"""

from __future__ import annotations

import datetime
import re
import shlex
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "APPS",
    "AppContext",
    "AppInstance",
    "ExecResult",
    "HttpRequest",
    "HttpResponse",
    "StartFailure",
    "encode_http_response",
    "parse_http_request",
    "register_app",
    "run_exec",
    "start_app",
]

INF = float("inf")
Effect = tuple[Any, ...]
Program = Generator[Effect, None, int]


class StartFailure(Exception):
    """The container's process cannot be started (runc's error text)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    client_ip: str = ""
    client_port: int = 0
    port: int = 0  # the port the request arrived on

    def header(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), default)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0  # how long the app takes to answer (probe timeouts)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str = ""
    duration: float = 0.0
    timed_out: bool = False
    error: str = ""  # the runtime could not run the command at all


@dataclass
class AppContext:
    """What a process sees: its pod, its environment, its files, the time."""

    pod_name: str
    namespace: str
    container_name: str
    argv: list[str]
    image_argv: list[str]
    pod_ip: str = ""
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = ()  # the image's ports, then the spec's containerPorts
    has_shell: bool = True
    time: float = 0.0
    log: Callable[[str], None] = lambda line: None  # for request-time logs (access logs)
    sigterm: tuple[float, int] | None = None  # set by `trap`

    @property
    def hostname(self) -> str:
        return self.pod_name


@dataclass
class AppInstance:
    run: Program
    http: Callable[[HttpRequest], HttpResponse] | None = None
    exec: Callable[[list[str]], ExecResult | None] | None = None
    on_sigterm: tuple[float, int] | None = None  # (seconds to exit, exit code); None: ignored
    raw: Callable[[bytes], bytes | None] | None = None  # non-HTTP TCP/UDP answers


App = Callable[[AppContext], AppInstance]
APPS: dict[str, App] = {}


def register_app(name: str, app: App) -> None:
    """Make behaviour `name` available to images (``ImageRegistry.register(app=name)``)."""
    APPS[name] = app


# -- HTTP ------------------------------------------------------------------------------------

_REASONS = {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found",
            400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
            503: "Service Unavailable"}


def parse_http_request(payload: bytes, client_ip: str = "", client_port: int = 0
                       ) -> HttpRequest | None:
    """The request line and headers of an HTTP/1.x request, or None if it is not one."""
    head = payload.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers = tuple((k.strip(), v.strip()) for k, _, v in
                    (line.partition(":") for line in lines[1:] if ":" in line))
    return HttpRequest(parts[0], parts[1], headers, client_ip, client_port)


def encode_http_response(resp: HttpResponse, server: str = "") -> bytes:
    body = resp.body.encode()
    head = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}"]
    if server:
        head.append(f"Server: {server}")
    head += [f"Content-Type: {resp.content_type}", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


# -- the shell -------------------------------------------------------------------------------

_OPS = {";", "&&", "||", "&", "|", "\n"}
_RESERVED_END = {"do", "done", "then", "else", "elif", "fi", "}"}


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _tokens(script: str) -> list[str]:
    lex = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>")
    lex.whitespace_split = True
    return list(lex)


def _parse_list(toks: list[str], i: int, stop: set[str]) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    conn = ";"
    while i < len(toks) and toks[i] not in stop:
        tok = toks[i]
        if tok in (";", "&", "\n"):
            conn, i = ";", i + 1
        elif tok in ("&&", "||"):
            conn, i = tok, i + 1
        else:
            node, i = _parse_command(toks, i)
            nodes.append((conn, node))
            conn = ";"
    return nodes, i


def _expect(toks: list[str], i: int, word: str) -> int:
    if i >= len(toks) or toks[i] != word:
        raise SyntaxError(f"syntax error: expected {word!r}")
    return i + 1


def _parse_command(toks: list[str], i: int) -> tuple[Any, int]:
    tok = toks[i]
    if tok in ("while", "until"):
        cond, i = _parse_list(toks, i + 1, {"do"})
        body, i = _parse_list(toks, _expect(toks, i, "do"), {"done"})
        return ("while", cond, body, tok == "until"), _expect(toks, i, "done")
    if tok == "if":
        cond, i = _parse_list(toks, i + 1, {"then"})
        then, i = _parse_list(toks, _expect(toks, i, "then"), {"else", "elif", "fi"})
        other: list[Any] = []
        if toks[i] == "elif":
            toks = toks[:i] + ["if"] + toks[i + 1:]
            node, i = _parse_command(toks, i)
            return ("if", cond, then, [(";", node)]), i
        if toks[i] == "else":
            other, i = _parse_list(toks, i + 1, {"fi"})
        return ("if", cond, then, other), _expect(toks, i, "fi")
    if tok == "for":
        name, i = toks[i + 1], _expect(toks, i + 2, "in")
        words = []
        while toks[i] not in (";", "do"):
            words.append(toks[i])
            i += 1
        i += 1 if toks[i] == ";" else 0
        body, i = _parse_list(toks, _expect(toks, i, "do"), {"done"})
        return ("for", name, words, body), _expect(toks, i, "done")
    if tok == "{":
        body, i = _parse_list(toks, i + 1, {"}"})
        return ("group", body), _expect(toks, i, "}")
    if tok in _RESERVED_END:
        raise SyntaxError(f"syntax error: unexpected {tok!r}")
    words: list[str] = []
    while i < len(toks) and toks[i] not in _OPS:
        words.append(toks[i])
        i += 1
    return ("cmd", words), i


def parse_script(script: str) -> list[Any]:
    nodes, i = _parse_list(_tokens(script), 0, set())
    return nodes


class _Shell:
    """Runs parsed scripts as a generator of effects; `ctx.files` is the container's disk."""

    def __init__(self, ctx: AppContext, out: Callable[[str, str], None] | None = None) -> None:
        self.ctx = ctx
        self.env = {"HOSTNAME": ctx.hostname, "HOME": "/root", **ctx.env}
        self.status = 0
        self.elapsed = 0.0
        self._out = out

    def emit(self, line: str, stream: str = "stdout") -> Effect:
        return ("log", line, stream)

    def run_list(self, nodes: list[Any]) -> Generator[Effect, None, int]:
        for conn, node in nodes:
            if (conn == "&&" and self.status != 0) or (conn == "||" and self.status == 0):
                continue
            self.status = yield from self.run_node(node)
        return self.status

    def run_node(self, node: Any) -> Generator[Effect, None, int]:
        kind = node[0]
        if kind == "cmd":
            return (yield from self.run_simple(node[1]))
        if kind == "group":
            return (yield from self.run_list(node[1]))
        if kind == "if":
            cond = yield from self.run_list(node[1])
            return (yield from self.run_list(node[2] if cond == 0 else node[3]))
        if kind == "for":
            for word in node[2]:
                self.env[node[1]] = self.expand(word)
                yield from self.run_list(node[3])
            return self.status
        _, cond, body, negate = node
        while True:
            before = self.elapsed
            ok = (yield from self.run_list(cond)) == 0
            if ok == negate:
                return 0
            yield from self.run_list(body)
            if self.elapsed == before:  # a busy loop: give it time to pass
                yield ("sleep", 1.0)
                self.elapsed += 1.0

    def expand(self, word: str) -> str:
        def sub(m: re.Match[str]) -> str:
            return "\n".join(self.capture(m.group(1))).strip()

        word = re.sub(r"\$\(([^)]*)\)", sub, word)
        word = word.replace("$?", str(self.status))
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.env.get(m.group(1), ""), word)

    def capture(self, script: str) -> list[str]:
        lines = []
        for eff in self.run_list(parse_script(script)):
            if eff[0] == "log":
                lines.append(eff[1])
        return lines

    def run_simple(self, raw: list[str]) -> Generator[Effect, None, int]:
        words, target = [], None
        it = iter(raw)
        for w in it:
            if w in (">", ">>"):
                target = next(it, "/dev/null")
            elif w in (">&", "<"):
                next(it, None)
            else:
                words.append(self.expand(w))
        while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            self.env[name] = value
        if not words:
            return 0
        if target is None:
            return (yield from self.builtin(words))
        captured = []
        gen = self.builtin(words)
        try:
            while True:
                eff = next(gen)
                if eff[0] == "log" and eff[2] == "stdout":
                    captured.append(eff[1])
                else:
                    yield eff
        except StopIteration as stop:
            if target != "/dev/null":
                yield ("touch", target, "\n".join(captured))
            return int(stop.value or 0)

    def builtin(self, words: list[str]) -> Generator[Effect, None, int]:
        cmd, args = words[0].rsplit("/", 1)[-1], words[1:]
        fixed = _FIXED_STATUS.get(cmd)
        if fixed is not None:
            return fixed
        handler = getattr(self, "_cmd_" + _COMMANDS.get(cmd, "unknown"))
        return (yield from handler(cmd, args))

    def _cmd_unknown(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        yield self.emit(f"sh: {cmd}: not found", "stderr")
        return 127

    def _cmd_sh(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        if len(args) >= 2 and args[0] == "-c":
            return (yield from self.run_list(parse_script(args[1])))
        return 0  # no stdin in a container: the shell reads EOF and exits

    def _cmd_exit(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        raise _Exit(int(args[0]) if args and args[0].lstrip("-").isdigit() else self.status)
        yield  # a generator, like every command

    def _cmd_exec(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        return (yield from self.builtin(args)) if args else 0

    def _cmd_sleep(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        if cmd == "tail":  # tail -f /dev/null: forever
            secs: float | None = INF if "-f" in args else 0.0
        else:
            secs = _seconds(args[0]) if args else None
        if secs is None:
            yield self.emit(f"sleep: invalid number '{args[0] if args else ''}'", "stderr")
            return 1
        self.elapsed += secs
        yield ("sleep", secs)
        return 0

    def _cmd_echo(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        if cmd == "printf":
            if args:
                fmt = args[0].replace("\\n", "\n").rstrip("\n")
                try:
                    text = fmt % tuple(args[1:])
                except (TypeError, ValueError):
                    text = fmt
                yield self.emit(text)
            return 0
        yield self.emit(" ".join(a for a in args if a not in ("-n", "-e")))
        return 0

    def _cmd_touch(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        for path in args:
            yield ("touch", path, self.ctx.files.get(path, ""))
        return 0

    def _cmd_rm(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        force = any(a.startswith("-") and "f" in a for a in args)
        status = 0
        for path in (a for a in args if not a.startswith("-")):
            if path in self.ctx.files:
                yield ("rm", path)
            elif not force:
                yield self.emit(f"rm: can't remove '{path}': No such file or directory",
                                "stderr")
                status = 1
        return status

    def _cmd_cat(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        status = 0
        for path in args:
            if path not in self.ctx.files:
                yield self.emit(f"cat: can't open '{path}': No such file or directory", "stderr")
                status = 1
                continue
            for line in self.ctx.files[path].splitlines():
                yield self.emit(line)
        return status

    def _cmd_ls(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        status = 0
        for path in args:
            if path in self.ctx.files:
                yield self.emit(path)
            else:
                yield self.emit(f"ls: {path}: No such file or directory", "stderr")
                status = 1
        return status

    def _cmd_test(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        args = [a for a in args if a != "]"]
        files = self.ctx.files
        if len(args) == 2 and args[0] in ("-e", "-f", "-s"):
            return 0 if args[1] in files else 1
        if len(args) == 2 and args[0] == "-d":
            return 0 if any(p.startswith(args[1].rstrip("/") + "/") for p in files) else 1
        return 0 if args and args[-1] else 1
        yield

    def _cmd_trap(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        if args and ("TERM" in args[1:] or "SIGTERM" in args[1:] or "15" in args[1:]):
            m = re.search(r"exit\s*(\d*)", args[0])
            self.ctx.sigterm = (0.0, int(m.group(1) or 0)) if m else None
        return 0
        yield

    def _cmd_info(self, cmd: str, args: list[str]) -> Generator[Effect, None, int]:
        if cmd == "date":
            yield self.emit(_busybox_date(self.ctx.time + self.elapsed))
        elif cmd == "hostname":
            yield self.emit(self.ctx.hostname)
        else:
            for k in sorted(self.env):
                yield self.emit(f"{k}={self.env[k]}")
        return 0


# What each command word runs (`_Shell._cmd_<name>`); words with a fixed status do nothing else.
_COMMANDS = {"sh": "sh", "bash": "sh", "ash": "sh", "exit": "exit", "exec": "exec",
             "sleep": "sleep", "tail": "sleep", "echo": "echo", "printf": "echo",
             "touch": "touch", "rm": "rm", "cat": "cat", "ls": "ls", "test": "test", "[": "test",
             "trap": "trap", "date": "info", "hostname": "info", "env": "info",
             "printenv": "info"}
_FIXED_STATUS = {"true": 0, ":": 0, "false": 1, "mkdir": 0, "cd": 0, "export": 0, "set": 0,
                 "ulimit": 0, "wait": 0, "sync": 0}


def _seconds(text: str) -> float | None:
    if text == "infinity":
        return INF
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text)
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _busybox_date(t: float) -> str:
    d = datetime.datetime.fromtimestamp(int(t), tz=datetime.UTC)
    return d.strftime("%a %b ") + f"{d.day:2d}" + d.strftime(" %H:%M:%S UTC %Y")


def _shell_program(ctx: AppContext, argv: list[str]) -> Program:
    shell = _Shell(ctx)
    try:
        return (yield from shell.builtin(argv))
    except _Exit as e:
        return e.code
    except (SyntaxError, ValueError) as e:  # shlex: "No closing quotation"
        yield ("log", f"sh: {e.msg if isinstance(e, SyntaxError) else e}", "stderr")
        return 2


_SHELL_WORDS = set(_COMMANDS) | set(_FIXED_STATUS)


def _not_found(cmd: str) -> str:
    return ("failed to create containerd task: failed to create shim task: OCI runtime create "
            "failed: runc create failed: unable to start container process: exec: "
            f'"{cmd}": executable file not found in $PATH: unknown')


def run_exec(app: AppInstance | None, ctx: AppContext, argv: list[str],
             timeout: float = INF) -> ExecResult:
    """Run `argv` inside the container to completion (exec probes, hooks, ``kubectl exec``).

    Files it touches change the container's disk; its output is returned, not logged. Sleeping
    past `timeout` stops it (``timed_out``).
    """
    if app is not None and app.exec is not None:
        answer = app.exec(argv)
        if answer is not None:
            return answer
    cmd = argv[0].rsplit("/", 1)[-1] if argv else ""
    if not ctx.has_shell or cmd not in _SHELL_WORDS:
        return ExecResult(126, error=_not_found(cmd).replace(
            "failed to create containerd task: failed to create shim task: OCI runtime create "
            "failed: runc create failed: ", "OCI runtime exec failed: exec failed: "))
    out: list[str] = []
    spent = 0.0
    gen = _shell_program(ctx, argv)
    try:
        while True:
            eff = next(gen)
            if eff[0] == "sleep":
                spent += eff[1]
                if spent > timeout:
                    return ExecResult(-1, "\n".join(out), timeout, timed_out=True)
            elif eff[0] == "log":
                out.append(eff[1])
            elif eff[0] == "touch":
                ctx.files[eff[1]] = eff[2]
            elif eff[0] == "rm":
                ctx.files.pop(eff[1], None)
    except StopIteration as stop:
        return ExecResult(int(stop.value or 0), "\n".join(out), spent)


def start_app(behaviour: str, ctx: AppContext) -> AppInstance:
    """The process for a container: the image's own app when it runs the image's default
    command (or the app's own binary), else the shell when the image has one and the command
    is one it knows; raises ``StartFailure`` (runc's wording) when the executable does not
    exist."""
    argv = ctx.argv
    if not argv:
        raise StartFailure("failed to create containerd task: failed to create shim task: OCI "
                           "runtime create failed: runc create failed: unable to start container "
                           "process: exec: no command specified: unknown")
    cmd = argv[0].rsplit("/", 1)[-1]
    app = APPS.get(behaviour)
    if app is not None and behaviour != "shell" and (
            argv == ctx.image_argv or cmd in _APP_BINARIES.get(behaviour, ())):
        return app(ctx)
    if ctx.has_shell and cmd in _SHELL_WORDS:
        return APPS["shell"](ctx)
    if behaviour == "server" and app is not None:
        return app(ctx)  # a user's image: assume the command is its own binary
    raise StartFailure(_not_found(argv[0]))


_APP_BINARIES = {"nginx": {"nginx", "docker-entrypoint.sh"}, "kubia": {"node"},
                 "redis": {"redis-server", "docker-entrypoint.sh"}, "httpd": {"httpd-foreground"},
                 "etcd": {"etcd"}, "stress": {"stress"}, "coredns": {"coredns"},
                 "kube-apiserver": {"kube-apiserver"}, "kube-scheduler": {"kube-scheduler"},
                 "kube-controller-manager": {"kube-controller-manager"},
                 "kube-proxy": {"kube-proxy"}, "storage-provisioner": {"storage-provisioner"},
                 "kubernetes-dashboard": {"dashboard"}, "addon-manager": {"kube-addons.sh"},
                 "pause": {"pause"}}


def _shell_app(ctx: AppContext) -> AppInstance:
    inst = AppInstance(_shell_program(ctx, ctx.argv))
    inst.on_sigterm = None  # PID 1 without a trap ignores SIGTERM; see `trap` (ctx.sigterm)
    return inst


APPS["shell"] = _shell_app


# -- built-in servers ------------------------------------------------------------------------

def _serve(ctx: AppContext, logs: Callable[[], list[tuple[str, str]]],
           ports: list[tuple[int, str]], warmup: float = 0.0) -> Program:
    """Log the start-up lines, (after `warmup`) listen, then run until signalled."""
    for line, stream in logs():
        yield ("log", line, stream)
    if warmup:
        yield ("sleep", warmup)
    for port, proto in ports:
        yield ("listen", port, proto)
    yield ("sleep", INF)
    return 0


def _routes(table: dict[tuple[int, str], tuple[int, str]], default: tuple[int, str] = (
        404, "404 page not found\n")) -> Callable[[HttpRequest], HttpResponse]:
    def http(req: HttpRequest) -> HttpResponse:
        status, body = table.get((req.port, req.path.split("?")[0]), default)
        return HttpResponse(status, body)
    return http


def _klog(ctx: AppContext, where: str, msg: str) -> tuple[str, str]:
    d = datetime.datetime.fromtimestamp(ctx.time, tz=datetime.UTC)
    return f"I{d:%m%d %H:%M:%S}.{d.microsecond:06d}       1 {where}] {msg}", "stderr"


NGINX_VERSION = "1.27.3"
NGINX_WELCOME = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
_NGINX_404 = ("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
              "<center><h1>404 Not Found</h1></center>\r\n"
              f"<hr><center>nginx/{NGINX_VERSION}</center>\r\n</body>\r\n</html>\r\n")
_ENTRYPOINT = "/docker-entrypoint.sh"


def _nginx(ctx: AppContext) -> AppInstance:
    def logs() -> list[tuple[str, str]]:
        d = datetime.datetime.fromtimestamp(ctx.time, tz=datetime.UTC)
        ts = f"{d:%Y/%m/%d %H:%M:%S} [notice] 1#1:"
        lines = [(f"{_ENTRYPOINT}: {m}", "stdout") for m in (
            "/docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            "Looking for shell scripts in /docker-entrypoint.d/",
            "Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh")]
        lines += [(f"10-listen-on-ipv6-by-default.sh: info: {m}", "stdout") for m in (
            "Getting the checksum of /etc/nginx/conf.d/default.conf",
            "Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf")]
        lines += [(f"{_ENTRYPOINT}: {m}", "stdout") for m in (
            "Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
            "Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
            "Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
            "Configuration complete; ready for start up")]
        return lines + [(f"{ts} {m}", "stderr") for m in (
            'using the "epoll" event method', f"nginx/{NGINX_VERSION}",
            "built by gcc 12.2.0 (Debian 12.2.0-14)", "OS: Linux 5.15.0",
            "getrlimit(RLIMIT_NOFILE): 1048576:1048576", "start worker processes",
            "start worker process 29")]

    def http(req: HttpRequest) -> HttpResponse:
        found = req.path.split("?")[0] in ("/", "/index.html")
        status, body = (200, NGINX_WELCOME) if found else (404, _NGINX_404)
        d = datetime.datetime.fromtimestamp(ctx.time, tz=datetime.UTC)
        ctx.log(f'{req.client_ip} - - [{d:%d/%b/%Y:%H:%M:%S} +0000] "{req.method} {req.path} '
                f'HTTP/1.1" {status} {len(body)} "-" "{req.header("User-Agent", "-")}" "-"')
        return HttpResponse(status, body, "text/html")

    def ex(argv: list[str]) -> ExecResult | None:
        if argv[:1] != ["nginx"]:
            return None
        if "-t" in argv:
            return ExecResult(0, "nginx: the configuration file /etc/nginx/nginx.conf syntax "
                                 "is ok\nnginx: configuration file /etc/nginx/nginx.conf test "
                                 "is successful")
        return ExecResult(0)

    # The image's STOPSIGNAL is SIGQUIT: a graceful shutdown, exit 0.
    return AppInstance(_serve(ctx, logs, [(80, "TCP")]), http, ex, on_sigterm=(0.1, 0))


def _kubia(ctx: AppContext) -> AppInstance:
    """luksa/kubia's app.js. It answers ``You've hit <hostname>`` and logs the client address,
    as the original does; it also returns that address on a second line so a caller can see
    pod-to-pod traffic arrives un-NATed. Node as PID 1 has no SIGTERM handler."""
    def http(req: HttpRequest) -> HttpResponse:
        ctx.log(f"Received request from ::ffff:{req.client_ip}")
        return HttpResponse(200, f"You've hit {ctx.hostname}\nClient address: {req.client_ip}\n")

    return AppInstance(_serve(ctx, lambda: [("Kubia server starting...", "stdout")],
                              [(8080, "TCP")]), http, on_sigterm=None)


def _httpd(ctx: AppContext) -> AppInstance:
    def logs() -> list[tuple[str, str]]:
        msg = ("AH00558: httpd: Could not reliably determine the server's fully qualified "
               f"domain name, using {ctx.pod_ip or '127.0.0.1'}. Set the 'ServerName' directive "
               "globally to suppress this message")
        return [(msg, "stderr"), (msg, "stderr")]
    http = _routes({(80, "/"): (200, "<html><body><h1>It works!</h1></body></html>\n")})
    return AppInstance(_serve(ctx, logs, [(80, "TCP")]), http, on_sigterm=(0.1, 0))


def _redis(ctx: AppContext) -> AppInstance:
    def logs() -> list[tuple[str, str]]:
        return [("1:C oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo", "stdout"),
                ("1:M * Server initialized", "stdout"),
                ("1:M * Ready to accept connections tcp", "stdout")]

    def ex(argv: list[str]) -> ExecResult | None:
        if argv[:1] == ["redis-cli"] and argv[-1:] == ["ping"]:
            return ExecResult(0, "PONG")
        return None

    def raw(payload: bytes) -> bytes | None:
        return b"+PONG\r\n" if payload.strip().upper().endswith(b"PING") else b"+OK\r\n"

    return AppInstance(_serve(ctx, logs, [(6379, "TCP")]), exec=ex, raw=raw,
                       on_sigterm=(0.1, 0))


def _coredns(ctx: AppContext) -> AppInstance:
    def logs() -> list[tuple[str, str]]:
        return [(".:53", "stdout"), ("CoreDNS-1.11.1", "stdout"),
                ("linux/amd64, go1.20.7, ae2bbc2", "stdout")]
    http = _routes({(8080, "/health"): (200, "OK"), (8181, "/ready"): (200, "OK"),
                    (9153, "/metrics"): (200, "coredns_build_info 1\n")})
    ports = [(53, "UDP"), (53, "TCP"), (8080, "TCP"), (8181, "TCP"), (9153, "TCP")]
    # SIGTERM starts `lameduck 5s`, then a clean exit.
    return AppInstance(_serve(ctx, logs, ports), http, raw=lambda p: None, on_sigterm=(5.0, 0))


def _etcd(ctx: AppContext) -> AppInstance:
    health = (200, '{"health":"true","reason":""}')
    http = _routes({(2379, "/health"): health, (2381, "/health"): health})

    def ex(argv: list[str]) -> ExecResult | None:
        if argv[:1] == ["etcdctl"] and "health" in argv:
            return ExecResult(0, "127.0.0.1:2379 is healthy: successfully committed proposal: "
                                 "took = 1.5ms")
        return None

    logs = lambda: [_klog(ctx, "etcd.go:1", "starting etcd")]  # noqa: E731
    ports = [(2379, "TCP"), (2380, "TCP"), (2381, "TCP")]
    return AppInstance(_serve(ctx, logs, ports), http, ex, on_sigterm=(0.2, 0))


def _component(name: str, port: int, paths: tuple[str, ...], warmup: float) -> App:
    def app(ctx: AppContext) -> AppInstance:
        http = _routes({(port, p): (200, "ok") for p in paths})
        logs = lambda: [_klog(ctx, "server.go:1", f"Starting {name}")]  # noqa: E731
        return AppInstance(_serve(ctx, logs, [(port, "TCP")], warmup), http,
                           on_sigterm=(0.5, 0))
    return app


def _kube_proxy(ctx: AppContext) -> AppInstance:
    def http(req: HttpRequest) -> HttpResponse:
        if (req.port, req.path) == (10256, "/healthz"):
            now = datetime.datetime.fromtimestamp(ctx.time, tz=datetime.UTC).isoformat()
            return HttpResponse(200, f'{{"lastUpdated": "{now}","currentTime": "{now}"}}',
                                "application/json")
        return HttpResponse(404, "404 page not found\n")
    logs = lambda: [_klog(ctx, "server_linux.go:1", "Using iptables Proxier")]  # noqa: E731
    return AppInstance(_serve(ctx, logs, [(10249, "TCP"), (10256, "TCP")]), http,
                       on_sigterm=(0.1, 0))


def _quiet(lines: Callable[[AppContext], list[tuple[str, str]]], code: int = 0) -> App:
    def app(ctx: AppContext) -> AppInstance:
        return AppInstance(_serve(ctx, lambda: lines(ctx), []), on_sigterm=(0.1, code))
    return app


def _server(ctx: AppContext) -> AppInstance:
    """A user-registered image: listens on its ports (and the spec's containerPorts) and
    answers every HTTP request ``200 OK``; exits at once on SIGTERM."""
    http = lambda req: HttpResponse(200, "OK\n")  # noqa: E731
    ports = [(p, "TCP") for p in dict.fromkeys(ctx.ports)]
    return AppInstance(_serve(ctx, lambda: [], ports), http, on_sigterm=(0.0, 0))


def _stress(ctx: AppContext) -> AppInstance:
    """polinux/stress: ``--vm-bytes 250M`` allocates that much and holds it (the memory-limit
    example of the Kubernetes documentation: over the limit, the container is OOMKilled)."""
    args = ctx.argv[1:]
    size = 256 * 2**20
    if "--vm-bytes" in args and args.index("--vm-bytes") + 1 < len(args):
        text = args[args.index("--vm-bytes") + 1]
        unit = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:].upper(), None)
        size = int(float(text[:-1]) * unit) if unit and not text[-1:].isdigit() else int(text)

    def run() -> Program:
        yield ("log", "stress: info: [1] dispatching hogs: 0 cpu, 0 io, 1 vm, 0 hdd", "stderr")
        yield ("sleep", 0.5)
        yield ("alloc", size)
        yield ("sleep", INF)
        return 0
    return AppInstance(run(), on_sigterm=None)


def _pause(ctx: AppContext) -> AppInstance:
    return AppInstance(_serve(ctx, lambda: [], []), on_sigterm=(0.0, 0))


APPS.update({
    "server": _server, "pause": _pause, "nginx": _nginx, "kubia": _kubia, "httpd": _httpd,
    "redis": _redis, "coredns": _coredns, "etcd": _etcd, "stress": _stress,
    "kube-apiserver": _component("kube-apiserver", 8443, ("/livez", "/readyz", "/healthz"), 1.0),
    "kube-controller-manager": _component("kube-controller-manager", 10257, ("/healthz",), 0.5),
    "kube-scheduler": _component("kube-scheduler", 10259, ("/healthz",), 0.5),
    "kube-proxy": _kube_proxy,
    "storage-provisioner": _quiet(lambda ctx: [_klog(
        ctx, "storage_provisioner.go:116", "Initializing the minikube storage provisioner...")]),
    "kubernetes-dashboard": lambda ctx: AppInstance(
        _serve(ctx, lambda: [("Starting overwatch", "stdout")], [(9090, "TCP")]),
        _routes({(9090, "/"): (200, "<!doctype html><title>Kubernetes Dashboard</title>\n")}),
        on_sigterm=(0.1, 0)),
    "addon-manager": _quiet(lambda ctx: [(
        "INFO: == Kubernetes addon manager started at "
        f"{datetime.datetime.fromtimestamp(ctx.time, tz=datetime.UTC):%Y-%m-%dT%H:%M:%S+00:00}"
        " with ADDON_CHECK_INTERVAL_SEC=60 ==", "stdout")]),
})
