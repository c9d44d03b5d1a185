"""qengine's benchmark suite (``qengine perf``). Private helpers start with an underscore."""
