"""The simulator answers with the client's table of Thalex error codes, never its own."""

from __future__ import annotations

import ast
from pathlib import Path

from qengine.io import error_codes

SIM = Path(__file__).resolve().parents[2] / "qengine" / "sim"
NAMES = {name for name in vars(error_codes) if name.isupper()}


def test_no_simulator_module_defines_an_error_code():
    redefined = []
    for path in sorted(SIM.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            redefined += [f"{path.name}: {t.id}" for t in targets
                          if isinstance(t, ast.Name) and t.id in NAMES]
    assert redefined == []
