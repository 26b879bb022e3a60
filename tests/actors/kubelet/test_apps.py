"""The processes inside containers: the shell interpreter, HTTP, built-in servers."""

import pytest

from actors.kubelet import (
    AppContext,
    HttpRequest,
    HttpResponse,
    StartFailure,
    encode_http_response,
    parse_http_request,
    run_exec,
    start_app,
)


def ctx(argv, image_argv=("sh",), **kw):
    return AppContext("web-1", "default", "app", list(argv), list(image_argv), "10.244.0.5", **kw)


def effects(app, limit=20):
    out = []
    try:
        for _ in range(limit):
            out.append(next(app.run))
    except StopIteration as stop:
        out.append(("exit", stop.value))
    return out


def test_sleep_then_exit():
    app = start_app("shell", ctx(["sh", "-c", "sleep 5; exit 1"]))
    assert effects(app) == [("sleep", 5.0), ("exit", 1)]


def test_echo_and_operators():
    app = start_app("shell", ctx(["sh", "-c", 'echo "hello $HOSTNAME"; false && echo no || '
                                  "echo yes; true; exit"]))
    assert effects(app) == [("log", "hello web-1", "stdout"), ("log", "yes", "stdout"),
                            ("exit", 0)]


def test_control_flow_and_substitution():
    app = start_app("shell", ctx(["sh", "-c", "for i in a b; do echo $i $(hostname); done; "
                                  "if [ -f /x ]; then echo yes; else echo no; fi"]))
    assert effects(app) == [("log", "a web-1", "stdout"), ("log", "b web-1", "stdout"),
                            ("log", "no", "stdout"), ("exit", 0)]


def test_loops_forever_and_busy_loops_get_a_second_per_turn():
    app = start_app("shell", ctx(["sh", "-c", "while true; do echo tick; sleep 2; done"]))
    assert effects(app, 4) == [("log", "tick", "stdout"), ("sleep", 2.0)] * 2
    busy = start_app("shell", ctx(["sh", "-c", "while :; do echo spin; done"]))
    assert effects(busy, 4) == [("log", "spin", "stdout"), ("sleep", 1.0)] * 2


def test_plain_commands_and_unknown_ones():
    assert effects(start_app("shell", ctx(["sleep", "infinity"]))) [0] == ("sleep", float("inf"))
    assert effects(start_app("shell", ctx(["sh"]))) == [("exit", 0)]  # no stdin: exits at once
    out = effects(start_app("shell", ctx(["sh", "-c", "frobnicate"])))
    assert out == [("log", "sh: frobnicate: not found", "stderr"), ("exit", 127)]
    out = effects(start_app("shell", ctx(["sh", "-c", "echo 'unterminated"])))
    assert out[-1] == ("exit", 2)


def test_exec_sees_and_changes_the_containers_files():
    c = ctx(["sh"])
    res = run_exec(None, c, ["cat", "/tmp/healthy"])
    assert (res.exit_code, res.output) == (1, "cat: can't open '/tmp/healthy': No such file or "
                                              "directory")
    assert run_exec(None, c, ["sh", "-c", "echo ok > /tmp/healthy"]).exit_code == 0
    assert c.files == {"/tmp/healthy": "ok"}
    assert run_exec(None, c, ["cat", "/tmp/healthy"]).output == "ok"
    assert run_exec(None, c, ["test", "-e", "/tmp/healthy"]).exit_code == 0
    assert run_exec(None, c, ["rm", "/tmp/nope"]).exit_code == 1


def test_exec_timeout_and_missing_binaries():
    c = ctx(["sh"])
    res = run_exec(None, c, ["sh", "-c", "sleep 5"], timeout=1)
    assert res.timed_out
    res = run_exec(None, c, ["sh", "-c", "sleep 2; exit 4"], timeout=10)
    assert (res.exit_code, res.duration) == (4, 2.0)
    res = run_exec(None, c, ["curl-not-here"])
    assert res.error == ("OCI runtime exec failed: exec failed: unable to start container "
                         'process: exec: "curl-not-here": executable file not found in $PATH: '
                         "unknown")
    distroless = ctx(["/coredns"], ["/coredns"], has_shell=False)
    assert run_exec(None, distroless, ["sh", "-c", "true"]).error


def test_trap_makes_the_shell_honour_sigterm():
    c = ctx(["sh", "-c", "trap 'exit 0' TERM; sleep 3600"])
    app = start_app("shell", c)
    assert effects(app, 1) == [("sleep", 3600.0)]
    assert c.sigterm == (0.0, 0)


def test_missing_executable_is_a_start_error():
    with pytest.raises(StartFailure) as e:
        start_app("shell", ctx(["foo"]))
    assert str(e.value) == (
        "failed to create containerd task: failed to create shim task: OCI runtime create "
        "failed: runc create failed: unable to start container process: exec: \"foo\": "
        "executable file not found in $PATH: unknown")
    with pytest.raises(StartFailure):
        start_app("coredns", ctx(["sh", "-c", "true"], ["/coredns"], has_shell=False))


def test_images_run_their_own_app_or_the_shell():
    nginx_argv = ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
    nginx = start_app("nginx", ctx(nginx_argv, nginx_argv))
    assert nginx.http is not None
    shell = start_app("nginx", ctx(["sh", "-c", "sleep 1"], nginx_argv))
    assert shell.http is None


def test_http_codec():
    req = parse_http_request(b"GET /index.html HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0"
                             b"\r\n\r\n", "10.244.1.3", 40000)
    assert req == HttpRequest("GET", "/index.html", (("Host", "x"), ("User-Agent", "curl/8.5.0")),
                              "10.244.1.3", 40000)
    assert req.header("user-agent") == "curl/8.5.0"
    assert parse_http_request(b"\x00binary") is None
    raw = encode_http_response(HttpResponse(404, "nope\n"), server="nginx")
    assert raw == (b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Type: text/plain; "
                   b"charset=utf-8\r\nContent-Length: 5\r\n\r\nnope\n")


def test_nginx_serves_its_welcome_page_and_logs_access():
    lines = []
    argv = ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
    c = ctx(argv, argv, log=lines.append, time=1_700_000_000.0)
    app = start_app("nginx", c)
    startup = effects(app, 30)
    assert ("listen", 80, "TCP") in startup
    assert ("log", "/docker-entrypoint.sh: Configuration complete; ready for start up",
            "stdout") in startup
    resp = app.http(HttpRequest("GET", "/", (("User-Agent", "curl/8.5.0"),), "10.244.1.3", 1, 80))
    assert resp.status == 200 and "<title>Welcome to nginx!</title>" in resp.body
    assert len(resp.body) == 615
    assert app.http(HttpRequest("GET", "/missing", (), "10.244.1.3", 1, 80)).status == 404
    assert lines[0] == ('10.244.1.3 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 615 '
                        '"-" "curl/8.5.0" "-"')
    assert app.on_sigterm == (0.1, 0)


def test_kubia_names_the_pod_and_the_client():
    lines = []
    c = ctx(["node", "app.js"], ["node", "app.js"], log=lines.append)
    app = start_app("kubia", c)
    assert effects(app, 3)[:2] == [("log", "Kubia server starting...", "stdout"),
                                   ("listen", 8080, "TCP")]
    resp = app.http(HttpRequest("GET", "/", (), "10.244.1.7", 5, 8080))
    assert resp.body == "You've hit web-1\nClient address: 10.244.1.7\n"
    assert lines == ["Received request from ::ffff:10.244.1.7"]
    assert app.on_sigterm is None  # node as PID 1: only SIGKILL stops it
