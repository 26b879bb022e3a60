"""``kubetwin demo``: until the cluster exists, a tour of the runtime in virtual time —
actors, asks, a partition, a crash with a supervisor restart, and the trace."""

from __future__ import annotations

import click
import msgspec

from runtime import Actor, LinkModel, RestartPolicy, Simulation, Uniform, handler


class Beat(msgspec.Struct, frozen=True, tag="demo.beat"):
    n: int


class Report(msgspec.Struct, frozen=True, tag="demo.report"):
    pass


class Peer(Actor):
    """Sends a heartbeat to every other peer each second and counts what it hears."""

    def __init__(self, peers: list[str]) -> None:
        self.peers = peers

    def on_start(self) -> None:
        self.heard: dict[str, int] = {}
        self.sent = 0
        self.every(1.0, Report())

    @handler
    def report(self, m: Report) -> None:
        for p in self.peers:
            if p != self.name:
                self.tell(p, Beat(self.sent))
        self.sent += 1

    @handler
    def beat(self, m: Beat) -> dict[str, int]:
        self.heard[self.sender] = self.heard.get(self.sender, 0) + 1
        return self.heard


@click.command()
@click.option("--seed", default=7, show_default=True, help="Seed of the simulation.")
def demo(seed: int) -> None:
    """Replay a short scenario in virtual time and print what happened."""
    names = ["node-a", "node-b", "node-c"]
    with Simulation(seed=seed, trace=True) as sim:
        sim.set_network(LinkModel(latency=Uniform(0.001, 0.02)))
        for n in names:
            sim.spawn(n, Peer, names, policy=RestartPolicy(backoff=1.0))
        sim.advance(5)
        click.echo(f"t={sim.now:5.1f}s  all connected")
        sim.partition(["node-a"], ["node-b", "node-c"])
        sim.advance(5)
        click.echo(f"t={sim.now:5.1f}s  node-a partitioned from node-b, node-c for 5 s")
        sim.heal()
        sim.crash("node-c")
        sim.advance(2)
        click.echo(f"t={sim.now:5.1f}s  node-c crashed (down 2 s)")
        sim.restart("node-c")
        sim.advance(3)
        click.echo(f"t={sim.now:5.1f}s  node-c restarted with empty memory")
        click.echo("")
        click.echo(f"{'ACTOR':8} {'HEARD FROM':34} {'STATUS':8}")
        for n in names:
            heard = sim.actor(n).heard
            text = ", ".join(f"{k}×{v}" for k, v in sorted(heard.items()))
            click.echo(f"{n:8} {text:34} {sim.system.status(n):8}")
        kinds: dict[str, int] = {}
        for e in sim.trace:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        click.echo("")
        click.echo("trace: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        click.echo(f"same seed, same trace: replay with `kubetwin demo --seed {seed}`")
