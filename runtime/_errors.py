"""Named outcomes of the runtime. Expected outcomes are exceptions a caller handles; a broken
invariant is an ``InvariantViolation`` and stops the simulation loudly."""

from __future__ import annotations

__all__ = [
    "ActorDead",
    "ActorError",
    "AskTimeout",
    "ExpectedError",
    "InvariantViolation",
    "MailboxFull",
    "SimulationTimeout",
    "UnknownActor",
]


class ActorError(Exception):
    """Base of the runtime's named errors."""


class ExpectedError(ActorError):
    """Base for domain outcomes a handler raises on purpose (``NotLeader``, ``Conflict`` …).

    Raised inside a handler, it is sent back to the asker and does not crash the actor.
    """


class MailboxFull(ActorError):
    def __init__(self, address: str, capacity: int) -> None:
        super().__init__(f"mailbox of {address!r} is full ({capacity} messages)")
        self.address = address
        self.capacity = capacity


class UnknownActor(ActorError):
    def __init__(self, address: str) -> None:
        super().__init__(f"no actor at address {address!r}")
        self.address = address


class ActorDead(ActorError):
    """A pending ask failed because its target stopped or crashed."""

    def __init__(self, address: str, why: str = "stopped") -> None:
        super().__init__(f"actor {address!r} {why} before replying")
        self.address = address
        self.why = why


class AskTimeout(ActorError, TimeoutError):
    def __init__(self, address: str, message_type: str, timeout: float) -> None:
        super().__init__(f"ask to {address!r} ({message_type}) got no reply within {timeout:g} s")
        self.address = address
        self.timeout = timeout


class SimulationTimeout(ActorError, TimeoutError):
    """``run_until`` reached its timeout; the message names the seed to replay."""


class InvariantViolation(AssertionError):
    """A broken invariant: never swallowed, it stops the simulation."""
