"""Small actors shared by the runtime tests."""

from __future__ import annotations

import msgspec

from runtime import Actor, ExpectedError, handler


class Ping(msgspec.Struct, frozen=True, tag="test.ping"):
    n: int = 0


class Get(msgspec.Struct, frozen=True, tag="test.get"):
    pass


class Boom(msgspec.Struct, frozen=True, tag="test.boom"):
    pass


class Refuse(msgspec.Struct, frozen=True, tag="test.refuse"):
    pass


class Slow(msgspec.Struct, frozen=True, tag="test.slow"):
    seconds: float


class Tick(msgspec.Struct, frozen=True, tag="test.tick"):
    pass


class NotAllowed(ExpectedError):
    pass


class Recorder(Actor):
    """Records every Ping it receives with (sender, n, virtual time)."""

    def __init__(self, log: list | None = None) -> None:
        self.shared = log if log is not None else []

    def on_start(self) -> None:
        self.seen: list[tuple[str, int, float]] = []
        self.total = self.store.get("total", 0)

    @handler
    def ping(self, m: Ping) -> int:
        self.seen.append((self.sender, m.n, self.now()))
        self.shared.append((self.name, m.n))
        self.total += 1
        self.store.put("total", self.total)
        return m.n

    @handler
    def get(self, m: Get) -> list:
        return list(self.seen)

    @handler
    def boom(self, m: Boom) -> None:
        raise RuntimeError("boom")

    @handler
    def refuse(self, m: Refuse) -> None:
        raise NotAllowed("refused on purpose")

    @handler
    async def slow(self, m: Slow) -> float:
        import anyio

        await anyio.sleep(m.seconds)
        return self.now()


class Forwarder(Actor):
    """Forwards every Ping to its target."""

    def __init__(self, target: str) -> None:
        self.target = target

    @handler
    def ping(self, m: Ping) -> None:
        self.tell(self.target, m)
