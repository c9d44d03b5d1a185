"""The quoting strategy shared by the live engine and the backtester.

``setup`` turns a config and an instrument into the kernel arrays the quoting decision uses; the
decision itself runs in ``qengine.kernels``. This layer sits above the kernels and below io,
the backtester and the engine, and imports only the kernels and the leaf modules (config, units).
"""
