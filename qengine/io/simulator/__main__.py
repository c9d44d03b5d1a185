"""``python -m qengine.io.simulator``: the same as ``qengine simulate``."""

from .cli import main

raise SystemExit(main())
