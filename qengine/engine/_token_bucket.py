"""A token bucket on trio's clock (the order manager's request meter)."""

from __future__ import annotations

import trio


class TokenBucket:
    """A token bucket on trio's clock: ``rate_per_s`` tokens a second, burst of one second."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.tokens = rate_per_s
        self.updated_s = trio.current_time()

    def set_rate(self, rate_per_s: float) -> None:
        """Resize the bucket (e.g. to the ``message_rate`` granted at login)."""
        self._refill()
        self.rate_per_s = max(1.0, float(rate_per_s))
        self.tokens = min(self.tokens, self.rate_per_s)

    def _refill(self) -> None:
        now = trio.current_time()
        self.tokens = min(self.rate_per_s, self.tokens + (now - self.updated_s) * self.rate_per_s)
        self.updated_s = now

    def take_up_to(self, wanted: int) -> int:
        """Take as many whole tokens as available, at most ``wanted``; return how many."""
        self._refill()
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted
