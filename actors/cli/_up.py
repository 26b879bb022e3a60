"""``kubetwin up`` and ``kubetwin down``: a live cluster for the real kubectl and etcdctl.

``up`` runs a ``ClusterSpec`` on the wall clock (``actors.cluster._live.run_live``) in the
foreground until Ctrl-C or SIGTERM, keeping everything in ``--data-dir`` (by default
``~/.kubetwin/<name>``) so the next ``up`` on it finds every object again. Once the API
answers it prints, on stdout, the two lines a shell needs::

    export KUBECONFIG=/home/me/.kubetwin/kubetwin/kubeconfig
    source /home/me/.kubetwin/kubetwin/etcdctl.env

``down`` sends SIGTERM to the process running a data directory (its pid file, checked
against the directory's lock) and waits for it to finish.

Concurrency model: ``up`` owns the process's asyncio loop (``anyio.run``) and its SIGINT
and SIGTERM handlers; a signal cancels ``run_live``, which closes the servers, stops the
actors and syncs their journals before the command returns.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import click

from actors.cluster._live import (
    AlreadyRunning,
    LiveCluster,
    NotReady,
    SpecMismatch,
    load_spec,
    read_pid,
    run_live,
    saved_spec,
)

__all__ = ["down", "up"]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _data_dir(name: str, data_dir: Path | None) -> Path:
    return (data_dir or Path.home() / ".kubetwin" / name).expanduser().resolve()


def _announce(name: str, info: LiveCluster) -> None:
    etcd = ",".join(info.etcd_endpoints)
    click.echo(f'kubetwin: cluster "{name}" is up: API {info.server}, etcd {etcd}, '
               f"data in {info.data_dir} (Ctrl-C or `kubetwin down --data-dir "
               f"{info.data_dir}` stops it)", err=True)
    click.echo(f"export KUBECONFIG={info.kubeconfig}")
    click.echo(f"source {info.etcdctl_env}")


async def _run(name: str, **kwargs: Any) -> None:
    """``run_live`` until SIGINT or SIGTERM (a second one exits at once, unsynced)."""
    loop = asyncio.get_running_loop()
    with anyio.CancelScope() as scope:
        def on_signal(signum: int) -> None:
            if scope.cancel_called:
                click.echo("kubetwin: second signal: exiting without a clean stop", err=True)
                os._exit(128 + signum)
            click.echo(f"kubetwin: {signal.Signals(signum).name}: stopping", err=True)
            scope.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            await run_live(ready=lambda info: _announce(name, info), **kwargs)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


@click.command()
@click.option("--name", default="kubetwin", show_default=True,
              help="The cluster's name; picks the default data directory.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the cluster's state, certificates and tokens live "
                   "[default: ~/.kubetwin/NAME].")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
              help="The kubeconfig to write (the kubetwin context is added or replaced) "
                   "[default: DATA_DIR/kubeconfig].")
@click.option("--port", type=click.IntRange(0, 65535), default=6443, show_default=True,
              help="The HTTPS port of the API on 127.0.0.1 (0: a free one).")
@click.option("--etcd-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The etcd gRPC port of member 0 on 127.0.0.1, member i on PORT+i "
                   "(0: free ones).")
@click.option("--spec", "spec_file", type=click.File("r"),
              help="A YAML file of ClusterSpec fields (etcd_members, apiservers, schedulers, "
                   "controller_managers, nodes, addons, users).")
@click.option("--nodes", type=click.IntRange(min=0),
              help="How many nodes (minikube, minikube-m02, …) [default: 1].")
@click.option("--etcd-members", type=click.IntRange(min=1), help="etcd members [default: 1].")
@click.option("--apiservers", type=click.IntRange(min=1), help="kube-apiservers [default: 1].")
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="warning",
              show_default=True, help="Actor logs on stderr.")
def up(name: str, data_dir: Path | None, kubeconfig: Path | None, port: int, etcd_port: int,
       spec_file: Any, nodes: int | None, etcd_members: int | None, apiservers: int | None,
       log_level: str) -> None:
    """Run a live cluster on 127.0.0.1 until Ctrl-C; the real kubectl and etcdctl work.

    A data directory remembers its spec: a later up on it without --spec starts the
    same topology (the counts given still apply; etcd's membership cannot change)."""
    root = _data_dir(name, data_dir)
    try:
        base = None if spec_file else saved_spec(root)
        spec = load_spec(spec_file.read() if spec_file else None, base=base, nodes=nodes,
                         etcd_members=etcd_members, apiservers=apiservers)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--spec/--nodes") from None
    ports = [etcd_port + i for i in range(spec.etcd_members)] if etcd_port else None
    if ports and ports[-1] > 65535:
        raise click.BadParameter("the etcd ports run past 65535", param_hint="--etcd-port")
    try:
        anyio.run(lambda: _run(name, spec=spec, data_dir=root, port=port,
                               kubeconfig=kubeconfig, etcd_ports=ports, log_level=log_level))
    except (AlreadyRunning, NotReady, SpecMismatch, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo("kubetwin: stopped; state kept in " + str(root), err=True)


async def _wait_gone(root: Path, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        while read_pid(root) is not None:
            await anyio.sleep(0.1)
        return True
    return False


@click.command()
@click.option("--name", default="kubetwin", show_default=True, help="The cluster's name.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The data directory of the cluster [default: ~/.kubetwin/NAME].")
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for it to stop.")
def down(name: str, data_dir: Path | None, timeout: float) -> None:
    """Stop the cluster running in a data directory (SIGTERM, then wait)."""
    root = _data_dir(name, data_dir)
    pid = read_pid(root)
    if pid is None:
        click.echo(f"kubetwin: no cluster is running in {root}", err=True)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not anyio.run(_wait_gone, root, timeout):
        raise click.ClickException(f"pid {pid} did not stop within {timeout:g} s")
    click.echo(f"kubetwin: stopped pid {pid}; state kept in {root}", err=True)
