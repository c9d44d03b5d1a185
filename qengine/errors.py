"""Exceptions of the engine layer (the io layer has its own in ``qengine.io.errors``)."""

from __future__ import annotations


class QEngineError(Exception):
    """Base class of every qengine error."""


class ConfigError(QEngineError, ValueError):
    """Invalid configuration: the message names the offending key."""


class StartupError(QEngineError):
    """The engine could not start (unknown instrument, login refused, ...); nothing was quoted."""
