"""One environment per client session, each made fresh from the initial state.

A session is what the transport calls one: the process's one client over stdio, an
`Mcp-Session-Id` over streamable HTTP. The transport closes a session that stays idle or
one too many; an environment unused as long is closed here the same way.
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
        max_sessions: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make = make
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self._clock = clock
        # Session key -> (environment, last use), least recently used first.
        self._held: OrderedDict[str, tuple[Environment, float]] = OrderedDict()

    def environment(self, key: str) -> Environment:
        """The session's environment, made on its first use."""
        now = self._clock()
        held = self._held.pop(key, None)
        env = held[0] if held else self._make()
        self._held[key] = (env, now)
        self._evict(now)
        return env

    def _evict(self, now: float) -> None:
        while self._held:
            key, (env, used) = next(iter(self._held.items()))
            idle = self.idle_timeout is not None and now - used > self.idle_timeout
            over = self.max_sessions is not None and len(self._held) > self.max_sessions
            if not (idle or over):
                return
            del self._held[key]
            env.close()

    def __len__(self) -> int:
        return len(self._held)

    def close(self) -> None:
        for env, _ in self._held.values():
            env.close()
        self._held.clear()
