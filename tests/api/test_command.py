"""``firstpoint api``: migrates, builds the app and hands it to web.run_app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from firstpoint.api.app import API_TOKEN
from firstpoint.cli import main
from firstpoint.settings import get_settings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict]:
    db = tmp_path / "sub" / "api.db"
    monkeypatch.setenv("FIRSTPOINT_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("FIRSTPOINT_API_PORT", "8765")
    monkeypatch.setenv("FIRSTPOINT_VAR_DIR", str(tmp_path / "var-api"))
    monkeypatch.delenv("FIRSTPOINT_API_TOKEN", raising=False)
    get_settings.cache_clear()
    seen: dict = {"db": db}

    def fake_run_app(app: web.Application, host: str, port: int) -> None:
        seen.update(app=app, host=host, port=port)

    monkeypatch.setattr(web, "run_app", fake_run_app)
    yield seen
    get_settings.cache_clear()


def test_api_defaults_to_settings_port_and_migrates(captured: dict) -> None:
    from sqlalchemy import create_engine, inspect

    assert main(["api"]) == 0
    assert (captured["host"], captured["port"]) == ("127.0.0.1", 8765)
    assert isinstance(captured["app"], web.Application)
    # credentials by default (issue 13): a token made for this install, mode 0600
    token_file = captured["db"].parent.parent / "var-api" / "api.token"
    assert captured["app"][API_TOKEN] == token_file.read_text(encoding="utf-8").strip()
    assert token_file.stat().st_mode & 0o077 == 0
    engine = create_engine(f"sqlite:///{captured['db']}")
    assert "contacts" in inspect(engine).get_table_names()
    engine.dispose()


def test_api_port_and_token_file(captured: dict, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("abc123\n", encoding="utf-8")
    assert main(["api", "--port", "9001", "--token-file", str(token_file)]) == 0
    assert captured["port"] == 9001
    assert captured["app"][API_TOKEN] == "abc123"


def test_api_empty_token_file_is_an_error(captured: dict, tmp_path: Path, capsys) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  \n", encoding="utf-8")
    assert main(["api", "--token-file", str(token_file)]) == 2
    assert "token file is empty" in capsys.readouterr().err
    assert "app" not in captured


def test_api_no_auth_is_explicit(captured: dict) -> None:
    assert main(["api", "--no-auth"]) == 0
    assert API_TOKEN not in captured["app"]
