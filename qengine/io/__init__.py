"""Sans-IO protocol pieces and trio I/O for the Thalex exchange (messages, auth, client).

This package never imports ``qengine.kernels``, the engine or the simulator (``qengine.sim``, a
venue beside io).
"""

from .auth import Credentials as Credentials
from .auth import demo_credentials as demo_credentials
from .auth import load_credentials as load_credentials
from .thalex import ThalexClient as ThalexClient
from .thalex import open_thalex_client as open_thalex_client
from .thalex import url_for_network as url_for_network

__all__ = [
    "Credentials",
    "ThalexClient",
    "demo_credentials",
    "load_credentials",
    "open_thalex_client",
    "url_for_network",
]
