"""``_jit.entry_point``: the compiled function of a kernel's one signature, checked once."""

from __future__ import annotations

import numpy as np
import pytest

from qengine.kernels._jit import entry_point
from qengine.kernels.decision import bucket_take
from qengine.kernels.dtypes import GATE_STATE
from qengine.strategy.setup import new_bucket_state


def test_the_entry_point_computes_what_the_dispatcher_computes():
    via_dispatcher, direct = new_bucket_state(10.0, 0), new_bucket_state(10.0, 0)
    take = entry_point(bucket_take, direct, 0, 1)
    for now, wanted in [(0, 3), (0, 20), (250_000_000, 5), (2_000_000_000, 50)]:
        assert take(direct, now, wanted) == bucket_take(via_dispatcher, now, wanted)
    assert direct.tolist() == via_dispatcher.tolist()


def test_arguments_of_other_types_are_refused_before_any_call():
    with pytest.raises(TypeError, match=r"bucket_take: arguments \[0\]"):
        entry_point(bucket_take, np.zeros(1, GATE_STATE), 0, 1)  # a record of another dtype
    with pytest.raises(TypeError, match=r"arguments \[2\]"):
        entry_point(bucket_take, new_bucket_state(10.0, 0), 0, 1.5)
    with pytest.raises(TypeError, match="count"):
        entry_point(bucket_take, new_bucket_state(10.0, 0), 0)
