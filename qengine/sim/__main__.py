"""``python -m qengine.sim``: the same as ``qengine simulate``."""

from .cli import main

raise SystemExit(main())
