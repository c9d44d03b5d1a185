"""qengine: an Avellaneda-Stoikov / GLFT market-making engine for the Thalex exchange."""

from ._version import __version__ as __version__
