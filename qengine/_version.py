"""Single source of the qengine version string."""

__version__ = "0.1.0"
