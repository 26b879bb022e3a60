"""Shared by the live-mode end-to-end tests: ``kubetwin up`` as a subprocess, and polling.

``Up`` starts ``kubetwin up --port 0`` on a data directory under a test's tmp dir, its
output kept in files (a pipe could fill up), and waits for the kubeconfig it writes once
the API answers (bounded). ``eventually`` polls a check until it is truthy or a deadline.
``Kubectl`` runs one kubectl binary against an ``Up``, with HOME and the discovery cache
under the test's tmp dir.

Real time, real processes: bounded waits only, 127.0.0.1 and port 0 only; whoever starts
an ``Up`` stops it (``stop``, or ``kill`` in a ``finally``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["BOOT_TIMEOUT", "KUBETWIN", "Kubectl", "Up", "eventually"]

KUBETWIN = [sys.executable, "-c", "import sys; from actors.cli import main; sys.exit(main())"]
BOOT_TIMEOUT = 40.0  # seconds for `kubetwin up` to write its kubeconfig
REPO = Path(__file__).parents[2]


def eventually(check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """``check()`` until it returns something truthy or ``timeout`` seconds pass; the last
    result either way."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class Up:
    """One ``kubetwin up`` process, its output kept in files (a pipe could fill up)."""

    def __init__(self, tmp: Path, tag: str, *args: str) -> None:
        self.data_dir = tmp / "data"
        self.kubeconfig = tmp / "kubeconfig"
        self.out_path, self.err_path = tmp / f"up-{tag}.out", tmp / f"up-{tag}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*KUBETWIN, "up", "--data-dir", str(self.data_dir), "--kubeconfig",
                 str(self.kubeconfig), "--port", "0", *args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not self.kubeconfig.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"kubetwin up exited {self.proc.returncode}:\n{self.stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"no kubeconfig after {BOOT_TIMEOUT:g} s:\n{self.stderr}")
            time.sleep(0.05)
        eventually(lambda: "source " in self.stdout, 5)  # printed just after the file

    def wait_exit(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"kubetwin up did not stop within {timeout:g} s:\n{self.stderr}")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as Ctrl-C's sibling, and wait (killed past ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Kubectl:
    """``binary`` (a kubectl) against ``up``, with HOME and the discovery cache under ``tmp``."""

    def __init__(self, tmp: Path, up: Up, binary: str) -> None:
        self.tmp, self.up, self.binary = tmp, up, binary
        self.env = {**os.environ, "HOME": str(tmp)}

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, "--kubeconfig", str(self.up.kubeconfig), "--cache-dir",
                str(self.tmp / "kube-cache"), "--request-timeout=20s", *args]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=40,
                              stdin=subprocess.DEVNULL, check=False)

    def manifest(self, name: str, text: str) -> str:
        """``text`` written to a file under ``tmp``; its path."""
        path = self.tmp / name
        path.write_text(text)
        return str(path)
