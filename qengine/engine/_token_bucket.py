"""The order manager's request meter: the decision core's token bucket on ``clock.now_ns``."""

from __future__ import annotations

from ..clock import now_ns
from ..kernels.decision import bucket_set_rate, bucket_take
from ..strategy.setup import new_bucket_state


class TokenBucket:
    """``rate_per_s`` tokens a second, burst of one second (``kernels.decision.bucket_*``)."""

    def __init__(self, rate_per_s: float) -> None:
        #: ``BUCKET_STATE``, written only through the kernels.
        self.state = new_bucket_state(rate_per_s, now_ns())

    @property
    def rate_per_s(self) -> float:
        return float(self.state[0]["rate_per_s"])

    def set_rate(self, rate_per_s: float) -> None:
        """Resize the bucket (e.g. to the ``message_rate`` granted at login)."""
        bucket_set_rate(self.state, now_ns(), float(rate_per_s))

    def take_up_to(self, wanted: int) -> int:
        """Take as many whole tokens as available, at most ``wanted``; return how many."""
        return int(bucket_take(self.state, now_ns(), wanted))
