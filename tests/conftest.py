"""Shared fixtures. Servers bind port 0 on 127.0.0.1; I/O tests run under ``fail_after``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Kernel twin comparisons are cheap but numerous; keep Hypothesis quick and deterministic in CI.
settings.register_profile(
    "qengine",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("QENGINE_HYPOTHESIS_PROFILE", "qengine"))
