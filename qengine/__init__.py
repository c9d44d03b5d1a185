"""qengine: an Avellaneda-Stoikov / GLFT market-making engine for the Thalex exchange."""

from ._version import __version__ as __version__

__all__ = ["__version__"]
