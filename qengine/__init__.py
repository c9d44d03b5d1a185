"""qengine: an Avellaneda-Stoikov / GLFT market-making engine for the Thalex exchange.

The public surface is small: ``run_engine`` runs a session (starting the simulator process on
network ``sim``), ``open_engine(config, url=..., credentials=...)`` runs the quoter on a given
venue, ``EngineConfig`` (with its sections) configures it, ``qengine.kernels`` is the research
API, ``qengine.io`` the Thalex client and ``qengine.sim`` the simulator.
"""

from ._version import __version__ as __version__
from .config import ConnectionConfig as ConnectionConfig
from .config import EngineConfig as EngineConfig
from .config import QuoteConfig as QuoteConfig
from .config import RiskConfig as RiskConfig
from .config import SimulatorSettings as SimulatorSettings
from .config import TelemetryConfig as TelemetryConfig
from .config import load_config as load_config
from .errors import ConfigError as ConfigError
from .errors import QEngineError as QEngineError
from .errors import StartupError as StartupError


def __getattr__(name: str) -> object:
    # The engine (trio, the client, the simulator) loads only when asked for, so that
    # ``import qengine.kernels`` stays light for research use.
    if name == "open_engine":
        from .engine import open_engine

        return open_engine
    if name == "run_engine":
        from .run import run_engine

        return run_engine
    raise AttributeError(f"module 'qengine' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "ConnectionConfig",
    "EngineConfig",
    "QEngineError",
    "QuoteConfig",
    "RiskConfig",
    "SimulatorSettings",
    "StartupError",
    "TelemetryConfig",
    "__version__",
    "load_config",
    "open_engine",
    "run_engine",
]
