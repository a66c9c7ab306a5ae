"""Config files and flags a careless user or a hostile file would give: refused with a clear error, cheaply."""
import pytest

from backtest.cli import main
from backtest.config import ConfigError, load_config, make_config


def test_yaml_aliases_are_refused_before_anything_expands(tmp_path):
    # nine levels of ten aliases each: a billion list items if expanded (76 s and 11 GB before this was refused)
    lines = ['a0: &a0 ["lol"]']
    for k in range(1, 10):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]")
    lines.append("sim: {ticks: 1000}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError, match=r"an alias \(\*a0\): aliases are not allowed in a config") as err:
        load_config(path)
    assert len(str(err.value)) < 1000


def test_a_bool_is_not_a_number_in_files_flags_or_code(tmp_path, capsys):
    with pytest.raises(ConfigError, match="size_lots: True is a bool, not a number"):
        make_config(**{"quoting.size_lots": True})
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("quoting:\n  half_spread_ticks: yes\n")
    with pytest.raises(ConfigError, match="half_spread_ticks: True is a bool"):
        load_config(yaml_file)
    assert main(["run", "--ticks", "100", "--set", "quoting.size_lots=true"]) == 2
    assert "a bool, not a number" in capsys.readouterr().err
    # bools where a bool is meant still are
    assert make_config(**{"hedging.enabled": False}).hedging.enabled is False


def test_a_recording_named_on_the_synthetic_market_is_said_to_be_unused():
    from backtest.config import config_warnings

    (w,) = config_warnings(make_config(**{"replay.exchange1": "data/binance-btcusdt-2024-08-08/spot.jsonl.gz"}))
    assert "market.source is 'synthetic'" in w and "not used" in w
    assert config_warnings(make_config()) == []
