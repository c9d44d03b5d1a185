"""Config: defaults are valid; unknown keys, wrong types and bad ranges name the key."""

from __future__ import annotations

import math

import pytest

from qengine.config import EngineConfig, load_config, sigma_per_sqrt_s
from qengine.errors import ConfigError


def test_defaults_are_valid_and_mirror_the_old_bot_where_it_was_effective():
    config = EngineConfig()
    assert config.instrument == "BTC-PERPETUAL"
    assert config.connection.network == "sim"
    assert config.quote.min_spread_ticks == 14
    assert config.quote.levels == 3
    assert config.quote.min_quote_interval_s == 0.5
    assert config.quote.force_refresh_s == 15.0
    assert config.risk.monitor_interval_s == 2.0
    assert config.connection.cancel_on_disconnect_s == 6


def test_toml_file_and_dotted_overrides(tmp_path):
    path = tmp_path / "q.toml"
    path.write_text('instrument = "ETH-PERPETUAL"\n[quote]\nmodel = "glft"\nlevels = 5\n')
    config = load_config(path, {"quote.gamma": 0.5, "risk.max_position": 3})
    assert config.instrument == "ETH-PERPETUAL"
    assert config.quote.model == "glft"
    assert config.quote.levels == 5
    assert config.quote.gamma == 0.5
    assert config.risk.max_position == 3.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quote.gama": 0.1}, "quote.gama: unknown key"),
        ({"nonsense": 1}, "nonsense: unknown key"),
        ({"quote.levels": "three"}, "quote.levels: must be an integer"),
        ({"quote.levels": 0}, "quote.levels: must be between 1 and 10"),
        ({"quote.model": "magic"}, "quote.model: must be one of"),
        ({"quote.estimate_intensity": 1}, "quote.estimate_intensity: must be true or false"),
        ({"quote.gamma": float("nan")}, "quote.gamma: must be finite"),
        ({"risk.stop_loss_pct": -0.1}, "risk.stop_loss_pct: must be > 0"),
        ({"connection.url": "http://x"}, "connection.url: must start with ws://"),
        ({"quote.max_spread_ticks": 3}, "quote.max_spread_ticks: must be >= quote.min_spread"),
    ],
)
def test_invalid_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(None, overrides)


def test_section_must_be_a_table(tmp_path):
    path = tmp_path / "q.toml"
    path.write_text('quote = 3\n')
    with pytest.raises(ConfigError, match="quote: must be a table"):
        load_config(path)


def test_missing_and_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[quote\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_daily_sigma_converts_to_per_sqrt_second():
    assert sigma_per_sqrt_s(0.015) == pytest.approx(0.015 / math.sqrt(86_400))


def test_mm_protection_trade_amount_may_not_exceed_the_quote_amount():
    with pytest.raises(ConfigError, match=r"risk\.mm_protection_trade_amount: must be <= risk\."
                                          r"mm_protection_quote_amount \(0\.1\)"):
        load_config(None, {"risk.mm_protection_trade_amount": 0.5,
                           "risk.mm_protection_quote_amount": 0.1})
    with pytest.raises(ConfigError, match=r"risk\.mm_protection_quote_amount: must be >= 0"):
        load_config(None, {"risk.mm_protection_quote_amount": -1})
    config = load_config(None, {"risk.mm_protection_trade_amount": 0.1,
                                "risk.mm_protection_quote_amount": 0.1})
    assert config.risk.mm_protection_quote_amount == 0.1


def test_position_bands_above_max_position_are_warned_at_load(caplog):
    with caplog.at_level("WARNING", logger="qengine.config"):
        load_config(None, {"risk.max_position": 0.1})  # defaults: small 0.1, large 0.5
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "risk.large_position (0.5) > risk.max_position (0.1)" in message


def test_shipped_example_sets_its_position_bands_below_max_position(caplog):
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "backtest.toml"
    with caplog.at_level("WARNING", logger="qengine.config"):
        r = load_config(example).risk
    assert caplog.records == []
    assert r.small_position < r.large_position < r.max_position
