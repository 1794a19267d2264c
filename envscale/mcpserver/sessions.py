"""One environment per client session, each made fresh from the initial state.

A session is what the transport calls one: the process's one client over stdio, an
`Mcp-Session-Id` over streamable HTTP. The HTTP transport ends a session when its client
closes it (`forget`) or when it has been idle `idle_timeout` seconds; an environment unused
that long is closed here (on the next call of any session), since its session is gone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from envscale.runtime.environment import Environment


class Sessions:
    def __init__(
        self,
        make: Callable[[], Environment],
        idle_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make = make
        self.idle_timeout = idle_timeout
        self._clock = clock
        # Session key -> (environment, last use), least recently used first.
        self._held: OrderedDict[str, tuple[Environment, float]] = OrderedDict()

    def environment(self, key: str) -> Environment:
        """The session's environment, made on its first use."""
        now = self._clock()
        held = self._held.pop(key, None)
        env = held[0] if held else self._make()
        self._held[key] = (env, now)
        self._close_idle(now)
        return env

    def forget(self, key: str) -> None:
        """The session ended: close its environment."""
        held = self._held.pop(key, None)
        if held:
            held[0].close()

    def _close_idle(self, now: float) -> None:
        if self.idle_timeout is None:
            return
        while self._held:
            key, (env, used) = next(iter(self._held.items()))
            if now - used <= self.idle_timeout:
                return
            del self._held[key]
            env.close()

    def __contains__(self, key: str) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)

    def close(self) -> None:
        for env, _ in self._held.values():
            env.close()
        self._held.clear()
