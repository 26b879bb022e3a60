"""kubetwin's actor runtime: actors, mailboxes, the bus and its network model, supervision,
durable stores, virtual time, faults and traces. It knows nothing of Kubernetes.

Two modes share all actor code: ``Simulation`` (virtual time, one seed, steppable from
synchronous code) and ``live_system`` (the wall clock, under anyio/asyncio).
"""

from ._actor import Actor, ReplyHandle, Timer, handler
from ._cell import DOWN, FAILED, RUNNING, STOPPED, MailboxStats
from ._clock import VirtualClockLoop, new_virtual_loop
from ._durable import DurableStore, FileStore, StoreStats
from ._errors import (
    ActorDead,
    ActorError,
    AskTimeout,
    ExpectedError,
    InvariantViolation,
    MailboxFull,
    SimulationTimeout,
    UnknownActor,
)
from ._faults import (
    ClockSkew,
    Crash,
    Fault,
    FaultSchedule,
    Heal,
    Isolate,
    LinkFaults,
    LoseUnsynced,
    Nemesis,
    Partition,
    Restart,
    SlowDisk,
    TimedFault,
    apply_fault,
)
from ._live import live_system
from ._messages import Down, Envelope, type_name
from ._network import Exponential, Fixed, Latency, LinkModel, LogNormal, NetworkModel, Uniform
from ._sim import Simulation, simulation
from ._supervision import DEFAULT_POLICY, NEVER_RESTART, RestartPolicy
from ._system import DRIVER, SIM_EPOCH, ActorSystem
from ._trace import Trace, TraceEvent

__all__ = [
    "DEFAULT_POLICY",
    "DOWN",
    "DRIVER",
    "FAILED",
    "NEVER_RESTART",
    "RUNNING",
    "SIM_EPOCH",
    "STOPPED",
    "Actor",
    "ActorDead",
    "ActorError",
    "ActorSystem",
    "AskTimeout",
    "ClockSkew",
    "Crash",
    "Down",
    "DurableStore",
    "Envelope",
    "ExpectedError",
    "Exponential",
    "Fault",
    "FaultSchedule",
    "FileStore",
    "Fixed",
    "Heal",
    "InvariantViolation",
    "Isolate",
    "Latency",
    "LinkFaults",
    "LinkModel",
    "LogNormal",
    "LoseUnsynced",
    "MailboxFull",
    "MailboxStats",
    "Nemesis",
    "NetworkModel",
    "Partition",
    "ReplyHandle",
    "Restart",
    "RestartPolicy",
    "Simulation",
    "SimulationTimeout",
    "SlowDisk",
    "StoreStats",
    "TimedFault",
    "Timer",
    "Trace",
    "TraceEvent",
    "Uniform",
    "UnknownActor",
    "VirtualClockLoop",
    "apply_fault",
    "handler",
    "live_system",
    "new_virtual_loop",
    "simulation",
    "type_name",
]
