"""Restart policies as data, in the Erlang/OTP tradition.

``one_for_one``: only the crashed actor is restarted. ``max_restarts`` within ``within`` seconds
bounds the restart intensity; past it the supervisor gives up and the actor is ``failed``.
Restarts wait an exponential back-off: ``backoff * factor**(n-1)``, capped at ``backoff_max``,
where n counts the restarts inside the window.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["RestartPolicy", "DEFAULT_POLICY", "NEVER_RESTART"]


class RestartPolicy(msgspec.Struct, frozen=True, tag="restart"):
    strategy: Literal["one_for_one"] = "one_for_one"
    restart: Literal["always", "never"] = "always"
    max_restarts: int = 10
    within: float = 60.0
    backoff: float = 0.1
    backoff_factor: float = 2.0
    backoff_max: float = 10.0

    def decide(self, history: list[float], now: float) -> float | None:
        """Delay before the next restart, or None to give up. ``history`` holds earlier restart
        times and is trimmed to the window in place."""
        if self.restart == "never":
            return None
        history[:] = [t for t in history if now - t < self.within]
        if len(history) >= self.max_restarts:
            return None
        return min(self.backoff * self.backoff_factor ** len(history), self.backoff_max)


DEFAULT_POLICY = RestartPolicy()
NEVER_RESTART = RestartPolicy(restart="never")
