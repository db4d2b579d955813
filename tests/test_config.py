from pathlib import Path

import pytest

from importer.cli import main
from importer.config import load_settings
from importer.exceptions import ConfigError

BUNDLED = Path(__file__).resolve().parent.parent / "config" / "importer.toml"


def test_bundled_config_loads() -> None:
    settings = load_settings(BUNDLED, environ={})
    assert settings.database.url == "sqlite:///var/importer.db"
    assert settings.inbox.root == Path("inbox")


def test_environment_overrides_nested_keys() -> None:
    settings = load_settings(
        BUNDLED,
        environ={
            "IMPORTER_DATABASE__URL": "postgresql://u@h/db",
            "IMPORTER_INBOX__ROOT": "/srv/inbox",
            "IMPORTER_FEEDS__PRODUCTS__MAX_ERROR_RATE": "0.5",
            "IMPORTER_FEEDS__INVENTORY__DATE_FORMATS": '["MM-DD-YYYY"]',
        },
    )
    assert settings.database.url == "postgresql://u@h/db"
    assert settings.inbox.root == Path("/srv/inbox")
    assert settings.feed("products").max_error_rate == 0.5
    assert settings.feed("inventory").date_formats == ["MM-DD-YYYY"]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[database]\nurl = "sqlite:///x.db"\n[feeds.products]\nmax_eror_rate = 0.2\n')
    with pytest.raises(ConfigError, match=r"feeds\.products\.max_eror_rate"):
        load_settings(path, environ={})


def test_unknown_feed_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[feeds.prodcuts]\nmax_errors = 3\n")
    with pytest.raises(ConfigError, match="prodcuts"):
        load_settings(path, environ={})


def test_bad_value_from_environment_is_named() -> None:
    with pytest.raises(ConfigError, match=r"feeds\.products\.max_error_rate"):
        load_settings(BUNDLED, environ={"IMPORTER_FEEDS__PRODUCTS__MAX_ERROR_RATE": "lots"})


def test_cli_exits_2_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[database]\nurll = 1\n")
    assert main(["--config", str(path), "feeds"]) == 2
    assert "database.urll" in capsys.readouterr().err


def test_cli_exits_2_on_missing_config(tmp_path: Path) -> None:
    assert main(["--config", str(tmp_path / "absent.toml"), "feeds"]) == 2
