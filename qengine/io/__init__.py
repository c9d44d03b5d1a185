"""Sans-IO protocol pieces and trio I/O for the Thalex exchange (messages, auth, client, simulator).

This package never imports ``qengine.kernels`` or the engine.
"""
