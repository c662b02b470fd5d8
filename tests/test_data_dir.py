"""Where FirstPoint keeps its data (database, keys, tokens, logs, caches): never in the package.

From a source checkout the default is the checkout's ``var/``; an installed package
(no ``pyproject.toml`` beside it, e.g. in site-packages) uses the user's data
directory (``$XDG_DATA_HOME/firstpoint``, else ``~/.local/share/firstpoint``);
``FIRSTPOINT_VAR_DIR`` always wins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import firstpoint.settings as settings_module
from firstpoint.settings import PROJECT_ROOT, settings_from_env


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The code as a non-editable install sees itself: a site-packages directory."""
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "firstpoint").mkdir(parents=True)
    (site / "knowledge" / "content").mkdir(parents=True)
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", site)
    return site


def test_a_checkout_keeps_its_data_in_var() -> None:
    assert (PROJECT_ROOT / "pyproject.toml").is_file()  # these tests run from a checkout
    settings = settings_from_env({"HOME": "/nonexistent-home"})
    assert settings.var_dir == PROJECT_ROOT / "var"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'firstpoint.db'}"


def test_an_installed_package_writes_nothing_into_site_packages(installed: Path,
                                                                tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = settings_from_env({"HOME": str(home)})
    assert settings.var_dir == home / ".local" / "share" / "firstpoint"
    assert installed not in settings.var_dir.parents
    assert settings.database_url == f"sqlite:///{settings.var_dir / 'firstpoint.db'}"
    assert settings.tracker_database_url == f"sqlite:///{settings.var_dir / 'tracker.db'}"


def test_an_installed_package_follows_xdg_data_home(installed: Path, tmp_path: Path) -> None:
    data = tmp_path / "xdg-data"
    settings = settings_from_env({"HOME": str(tmp_path / "home"),
                                  "XDG_DATA_HOME": str(data)})
    assert settings.var_dir == data / "firstpoint"


def test_the_data_directory_is_configurable(installed: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "srv" / "firstpoint"
    settings = settings_from_env({"FIRSTPOINT_VAR_DIR": str(chosen),
                                  "HOME": str(tmp_path / "home")})
    assert settings.var_dir == chosen
    assert settings.database_url == f"sqlite:///{chosen / 'firstpoint.db'}"


def test_an_explicit_home_keeps_its_data_beside_it(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "firstpoint-home"
    settings = settings_from_env({"FIRSTPOINT_HOME": str(home), "HOME": str(tmp_path)})
    assert settings.var_dir == home / "var"


def test_the_dataclass_default_is_not_in_an_installed_package() -> None:
    from firstpoint.settings import Settings, default_data_dir

    assert Settings().var_dir == default_data_dir(PROJECT_ROOT)
