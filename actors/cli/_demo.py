"""``kubetwin demo``: the seed's minikube session, replayed on a simulated minikube.

What it is: the README's first command. It boots ``ClusterSpec()`` (the seed's minikube: one
node, the control plane as mirror pods, kube-proxy, CoreDNS, storage-provisioner, the
dashboard and the addon manager) with ``simulate`` in virtual time and replays the seed's
notes as a terminal session — ``$ kubectl …`` / ``$ etcdctl …`` prompts, each followed by what
the simulated cluster answers, printed in kubectl's formats:

    componentstatus  kubectl get componentstatus
    kube-system      the kube-system pods and their node (and what made each)
    nginx            kubectl create deployment nginx + kubectl get events --watch
    ningx            the seed's typo: ErrImagePull, ImagePullBackOff
    node             minikube node add + kubectl get nodes -o wide
    kubia            two kubia pods, a request from one node's pod to the other's: no NAT
    service          kubectl expose, the ClusterIP and the DNS name: kube-proxy's DNAT
    etcd             the registry keys and a stored pod, as etcdctl reads them
    leader           the scheduler's leader-election record, and a failover

The etcd section comes after the pods exist, so that ``/registry/pods/default`` has the kubia
pods the seed's notes read. ``--section NAME`` prints one section: the sections before it
still run, silently, so it prints exactly the bytes of that part of a full run.

Concurrency model: synchronous; the simulation only runs while the demo waits on it.

Invariants: the output is a function of the seed (byte for byte: tested), and every line
after a prompt comes from the simulated cluster — a step the cluster cannot take says so.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from actors.cluster import ClusterSpec, simulate

from ._demo_control import componentstatus, etcd, kube_system, leader, run_nginx, run_ningx
from ._demo_network import kubia, node_add, service
from ._demo_print import Out
from ._demo_session import Session

__all__ = ["DEFAULT_SEED", "SECTIONS", "demo", "run_demo"]

DEFAULT_SEED = 7
SECTIONS: dict[str, Callable[[Session], None]] = {
    "componentstatus": componentstatus,
    "kube-system": kube_system,
    "nginx": run_nginx,
    "ningx": run_ningx,
    "node": node_add,
    "kubia": kubia,
    "service": service,
    "etcd": etcd,
    "leader": leader,
}


def run_demo(seed: int = DEFAULT_SEED, section: str | None = None, *,
             color: bool | None = None, out: Out | None = None) -> None:
    """Run the demo (or one section of it) and print it through ``out``."""
    if section is not None and section not in SECTIONS:
        raise click.BadParameter(f"unknown section {section!r}; one of {', '.join(SECTIONS)}")
    out = out or Out(color=color)
    out.line(click.style("kubetwin demo", bold=True) + f" — the seed's minikube session, "
             f"replayed on a simulated cluster in virtual time (seed {seed})")
    with simulate(ClusterSpec(), seed=seed) as cluster:
        out.note(f"booted ClusterSpec() in {cluster.now:g} s of virtual time: "
                 + ", ".join(cluster.actors))
        session = Session(cluster, out)
        for name, run in SECTIONS.items():
            if section is None or name == section:
                run(session)
                if name == section:
                    break
            else:
                out.silent = True
                try:
                    run(session)
                finally:
                    out.silent = False
        out.line()
        out.note(f"seed {seed}: {cluster.now:.1f} s of virtual time since boot; the same seed "
                 f"prints the same bytes. Replay: kubetwin demo --seed {seed}"
                 + (f" --section {section}" if section else ""))


@click.command()
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int,
              help="Seed of the simulation: the same seed replays the same session.")
@click.option("--section", type=click.Choice(list(SECTIONS)), default=None,
              help="Print one part only (the parts before it still run, silently).")
@click.option("--no-color", is_flag=True, help="Plain text, even on a terminal.")
def demo(seed: int, section: str | None, no_color: bool) -> None:
    """Replay the seed's minikube session on a simulated cluster (kubectl-style output)."""
    run_demo(seed, section, color=False if no_color else None)
