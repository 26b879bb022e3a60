"""``kubetwin``: the command-line entry point. Subcommands live in their own modules."""

from __future__ import annotations

import click

from ._demo import demo
from ._sim import sim
from ._up import down, up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kubetwin")
def main() -> None:
    """kubetwin: a working twin of a Kubernetes cluster, in virtual time or live."""


main.add_command(demo)
main.add_command(sim)
main.add_command(up)
main.add_command(down)
