"""Config: defaults work, errors name the key path, the init template is the defaults."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

from engine.config import DEFAULT_CONFIG_TOML, Config, ConfigError, load_config, parse_config


def test_empty_config_is_a_working_paper_setup():
    cfg = parse_config("")
    assert cfg == Config()
    assert cfg.feed.source == "synthetic" and cfg.execution.venue == "paper"


def test_init_template_parses_to_exactly_the_defaults():
    assert parse_config(DEFAULT_CONFIG_TOML) == Config()


def test_every_default_key_appears_in_the_init_template():
    def keys(obj, prefix=""):
        for name in obj.__struct_fields__:
            value = getattr(obj, name)
            if isinstance(value, msgspec.Struct):
                yield from keys(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"
    missing = [k for k in keys(Config()) if k.split(".")[-1] not in DEFAULT_CONFIG_TOML
               and k not in ("strategy.instances", "engine.actor_classes")
               and not k.startswith(("risk.limits.", "execution.dhan.charges.", "execution.kite.charges."))]  # in their modules
    assert missing == []


@pytest.mark.parametrize("text, expected", [
    ("[engine]\nbogus = 1\n", "unknown key 'engine.bogus'"),
    ("[engine.restart]\nmax_restart = 3\n", "unknown key 'engine.restart.max_restart'"),
    ("[enigne]\n", "unknown key 'enigne'"),
    ("[engine]\nheartbeat_interval_s = \"fast\"\n", "engine.heartbeat_interval_s: expected float, got str"),
    ("[engine]\ntopology = \"mesh\"\n", "engine.topology"),
    ("[feed]\nsource = \"replay\"\n", "feed.replay.path: required"),
    ("[feed.synthetic]\nrate_per_s = 0\n", "feed.synthetic.rate_per_s: must be > 0"),
    ("[feed.synthetic]\noption_strikes_each_side = -1\n", "feed.synthetic.option_strikes_each_side: must be >= 0"),
    ("[engine]\nheartbeat_interval_s = 1.0\nheartbeat_timeout_s = 1.5\n", "engine.heartbeat_timeout_s"),
    ("[engine]\nactors = [\"feed\", \"feed\"]\n", "names must be unique"),
    ("[engine]\ntopology = \"co-located\"\ncolocated = [\"nope\"]\n", "engine.colocated"),
    ("[engine\n", "not valid TOML"),
    ("[[strategy.instances]]\nname = \"EXTERNAL\"\nkind = \"probe\"\n", "'EXTERNAL' is reserved"),
    ("[execution.dhan]\nreconcile_interval_s = 0\n", "reconcile_interval_s must be > 0"),
])
def test_config_error_names_the_key_and_the_problem(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "my.toml")
    assert expected in str(err.value) and "my.toml" in str(err.value)


def test_a_secret_in_the_config_file_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="secrets never go in the config"):
        parse_config("[credentials]\naccess_token = \"abc\"\n")


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("text, needle", [
    ("[engine]\nbogus = 1\n", "engine.bogus"),
    ("[log]\nlevel = 3\n", "log.level"),
])
def test_shikra_run_with_a_bad_config_exits_nonzero_naming_the_key(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", "--config", str(path),
                          "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 78
    assert needle in out.stderr


def test_shikra_run_with_a_missing_config_file_exits_nonzero(tmp_path):
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", "--config", str(tmp_path / "x.toml")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 78 and "not found" in out.stderr


def test_shikra_init_writes_a_config_that_loads(tmp_path):
    path = tmp_path / "conf" / "shikra.toml"
    out = subprocess.run([sys.executable, "-m", "engine.cli", "init", str(path)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and path.exists()
    assert load_config(path) == Config()
    again = subprocess.run([sys.executable, "-m", "engine.cli", "init", str(path)], capture_output=True, text=True,
                           timeout=30)
    assert again.returncode != 0 and "--force" in again.stderr


@pytest.mark.parametrize("text, expected", [
    ("", "always"),                                                   # synthetic feed: never closes
    ('[feed]\nsource = "dhan"\n', "exchange"),
    ('[feed]\nsource = "replay"\n[feed.replay]\npath = "x.cap"\n', "exchange"),
    ('[risk]\nmarket_hours = "exchange"\n', "exchange"),
    ('[feed]\nsource = "dhan"\n[risk]\nmarket_hours = "always"\n', "always"),
])
def test_auto_market_hours_mean_always_open_only_for_the_synthetic_market(text, expected):
    from engine.model.calendar import market_hours
    assert market_hours(parse_config(text)) == expected


def test_an_alert_url_turns_the_notify_actor_on_and_none_leaves_it_off():
    assert "notify" not in Config().engine.actors
    cfg = parse_config('[engine]\nactors = ["execution"]\n[notify]\nurls = ["json://127.0.0.1:9/x"]\n')
    assert cfg.engine.actors == ["execution", "notify"]
    with pytest.raises(ConfigError, match="notify.urls"):
        parse_config('[notify]\nurls = ["not a url"]\n')
