"""``kubetwin sim``: fault campaigns in virtual time. ``kubetwin sim cluster`` runs a workload against a
whole simulated cluster under a seeded nemesis (``actors.cluster._campaign``). ``kubetwin sim etcd`` runs Jepsen's register
test against a simulated etcd cluster (``actors.etcd._campaign``) and judges it.

Exit status: 0 when every check passed; 1 on any violation (safety, durability, watch,
liveness or linearizability); 2 on a usage error (click's); 3 when the linearizability checker
ran out of budget (no verdict, never a guess). Same arguments, same output files, byte for
byte, whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import shlex
import sys

import click

from actors.etcd._campaign import NEMESES, CampaignConfig, run_campaign, summary


@click.group()
def sim() -> None:
    """Fault campaigns against simulated components, in virtual time."""


def _nemeses(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip() and k.strip() != "none")
    unknown = [k for k in kinds if k not in NEMESES]
    if unknown:
        raise click.BadParameter(f"unknown nemesis {', '.join(unknown)}; choose from {', '.join(NEMESES)} or none")
    return kinds


@sim.command()
@click.option("--members", default=5, show_default=True, type=click.IntRange(1, 15), help="Cluster size.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: same seed, same run.")
@click.option("--duration", default=60.0, show_default=True, type=click.FloatRange(0, 86_400),
              help="Virtual seconds of workload under faults; then heal and a quiet tail.")
@click.option("--clients", default=5, show_default=True, type=click.IntRange(1, 1000), help="Client processes.")
@click.option("--keys", default=3, show_default=True, type=click.IntRange(1, 1000), help="Registers k1..kN.")
@click.option("--nemesis", default="partition,crash,loss", show_default=True, callback=_nemeses,
              help=f"Comma-separated faults from: {', '.join(NEMESES)} (or none).")
@click.option("--tail", default=12.0, show_default=True, type=click.FloatRange(6, 3600),
              help="Quiet virtual seconds after the heal (clients keep going for the first 8).")
@click.option("--snapshot-count", default=200, show_default=True, type=click.IntRange(1),
              help="Entries applied between snapshots (low, to exercise snapshots).")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the operation history here (JSON lines, the checker's format).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the runtime trace here (JSON lines).")
@click.option("--unsafe-commit-old-term", is_flag=True,
              help="Break Raft on purpose (Figure 8: commit old-term entries by counting replicas).")
def etcd(members: int, seed: int, duration: float, clients: int, keys: int, nemesis: tuple[str, ...],
         tail: float, snapshot_count: int, history_path: str | None, trace_path: str | None,
         unsafe_commit_old_term: bool) -> None:
    """Run clients against an etcd cluster under a seeded nemesis, then check the history."""
    cfg = CampaignConfig(
        members=members, seed=seed, duration=duration, clients=clients, keys=keys, nemesis=nemesis,
        tail=tail, settle=min(8.0, tail - 6.0), snapshot_count=snapshot_count,
        unsafe_commit_old_term=unsafe_commit_old_term, trace=trace_path is not None,
    )
    result = run_campaign(cfg)
    if history_path:
        with open(history_path, "wb") as f:
            f.write(result.history)
    if trace_path:
        with open(trace_path, "wb") as f:
            f.write(result.trace)
    click.echo(summary(result))
    files = [f"history {history_path}" if history_path else "", f"trace {trace_path}" if trace_path else ""]
    if any(files):
        click.echo("wrote " + ", ".join(f for f in files if f))
    replay = _replay(cfg, history_path, trace_path)
    if not result.ok:
        click.echo(f"replay: {replay}", err=True)
        sys.exit(1)
    if result.linearizable is None:
        click.echo(f"linearizability: no verdict within the checker's budget; replay: {replay}", err=True)
        sys.exit(3)
    click.echo(f"replay: {replay}")


def _replay(cfg: CampaignConfig, history: str | None, trace: str | None) -> str:
    args = ["kubetwin", "sim", "etcd", "--members", str(cfg.members), "--seed", str(cfg.seed),
            "--duration", f"{cfg.duration:g}", "--clients", str(cfg.clients), "--keys", str(cfg.keys),
            "--nemesis", ",".join(cfg.nemesis) or "none", "--tail", f"{cfg.tail:g}",
            "--snapshot-count", str(cfg.snapshot_count)]
    if cfg.unsafe_commit_old_term:
        args.append("--unsafe-commit-old-term")
    if history:
        args += ["--history", history]
    if trace:
        args += ["--trace", trace]
    return shlex.join(args)


def _cluster_nemeses(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    from actors.cluster._campaign import NEMESES as CLUSTER_NEMESES

    kinds = tuple(k.strip() for k in value.split(",") if k.strip() and k.strip() != "none")
    unknown = [k for k in kinds if k not in CLUSTER_NEMESES]
    if unknown:
        raise click.BadParameter(f"unknown nemesis {', '.join(unknown)}; choose from "
                                 f"{', '.join(CLUSTER_NEMESES)} or none")
    return kinds


@sim.command()
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: same seed, same run.")
@click.option("--duration", default=120.0, show_default=True, type=click.FloatRange(0, 86_400),
              help="Virtual seconds of workload under faults; then heal and wait for convergence.")
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 100), help="Worker nodes.")
@click.option("--nemesis", default="crash,partition,loss", show_default=True, callback=_cluster_nemeses,
              help="Comma-separated faults from: crash, partition, node-partition, dataplane, loss, "
                   "skew, stream-loss (or none).")
@click.option("--converge-bound", default=300.0, show_default=True, type=click.FloatRange(1, 86_400),
              help="Liveness: virtual seconds after the heal within which the cluster must converge.")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the fault schedule and the result here (JSON lines).")
def cluster(seed: int, duration: float, nodes: int, nemesis: tuple[str, ...], converge_bound: float,
            history_path: str | None) -> None:
    """Run a workload against a whole simulated cluster under a seeded nemesis; check safety at every
    step and convergence after the heal."""
    import msgspec

    from actors.cluster._campaign import CampaignConfig
    from actors.cluster._campaign import run_campaign as run_cluster
    from actors.cluster._campaign import summary as cluster_summary

    cfg = CampaignConfig(seed=seed, duration=duration, nodes=nodes, nemesis=nemesis,
                         converge_bound=converge_bound)
    result = run_cluster(cfg)
    if history_path:
        with open(history_path, "wb") as f:
            for ev in result.schedule:
                f.write(msgspec.json.encode({"fault": ev}) + b"\n")
            f.write(msgspec.json.encode({"result": result}) + b"\n")
    click.echo(cluster_summary(result))
    args = ["kubetwin", "sim", "cluster", "--seed", str(seed), "--duration", f"{duration:g}", "--nodes",
            str(nodes), "--nemesis", ",".join(nemesis) or "none", "--converge-bound", f"{converge_bound:g}"]
    if history_path:
        args += ["--history", history_path]
    if history_path:
        click.echo(f"wrote history {history_path}")
    if not result.ok:
        click.echo(f"replay: {shlex.join(args)}", err=True)
        sys.exit(1)
    click.echo(f"replay: {shlex.join(args)}")
