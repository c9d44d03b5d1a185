"""``python -m perf`` (``make perf``): the benchmark suite, run from a source checkout."""

from perf.suite import main

raise SystemExit(main())
