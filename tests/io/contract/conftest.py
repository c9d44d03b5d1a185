"""Fixtures of the contract tests: a simulator in the test's nursery and demo credentials.

The demo key pair is created once per test session in a temporary directory shared by the
simulator (which accepts it) and the clients (which sign with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qengine.io.auth import Credentials, demo_credentials
from qengine.io.thalex import url_for_network
from qengine.sim import SimulatorConfig, serve_simulator


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("qengine-demo-keys"))


@pytest.fixture(scope="session")
def credentials(demo_dir) -> Credentials:
    return demo_credentials(demo_dir)


@dataclass
class Sim:
    url: str
    port: int
    handle: object


async def start_sim(nursery, demo_dir: str, **overrides) -> Sim:
    """Start a seeded simulator in ``nursery`` and return its URL."""
    config = SimulatorConfig(seed=7, demo_config_dir=demo_dir, **overrides)
    handle = await nursery.start(serve_simulator, config)
    port = int(handle)
    return Sim(url_for_network("sim", sim_port=port), port, handle)


@pytest.fixture
async def sim(nursery, demo_dir) -> Sim:
    return await start_sim(nursery, demo_dir)
