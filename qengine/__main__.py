"""``python -m qengine`` is the same as the ``qengine`` console script."""

from .cli import main

raise SystemExit(main())
