"""Requests per minute per client: a token bucket per API key (or per address for GETs
without one), in this process's memory. Each desk node limits on its own; behind a load
balancer over N nodes a client gets at most N times the rate, which is what a per-node
budget is for (protecting the node), not billing."""

from __future__ import annotations

import math
from collections.abc import Callable

#: Idle buckets (full again) are dropped once this many are kept, so an address scan cannot grow memory.
MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute, self.clock = per_minute, clock
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, who: str) -> int | None:
        """None when `who` may go on (one request counted); else the whole seconds until it may."""
        if self.per_minute <= 0:
            return None
        now, rate = self.clock(), self.per_minute / 60.0
        tokens, then = self.buckets.get(who, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * rate)
        if tokens < 1.0:
            self.buckets[who] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
        if len(self.buckets) >= MAX_BUCKETS and who not in self.buckets:
            self._prune(now, rate)
        self.buckets[who] = (tokens - 1.0, now)
        return None

    def _prune(self, now: float, rate: float) -> None:
        full = [k for k, (tokens, then) in self.buckets.items() if tokens + (now - then) * rate >= self.per_minute]
        for k in full:
            del self.buckets[k]
        if len(self.buckets) >= MAX_BUCKETS:
            self.buckets.clear()
