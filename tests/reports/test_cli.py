"""``firstpoint report`` through firstpoint.cli.main."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from firstpoint.cli import main
from firstpoint.reports.params import council_today, default_range
from firstpoint.settings import get_settings
from tests.reports import expected

PERIOD_ARGS = ["--from", "2026-10-01", "--to", "2026-11-30"]


@pytest.fixture
def settings_db(fixture_url: str, monkeypatch: pytest.MonkeyPatch):
    """Point get_settings().database_url at the fixture database."""
    monkeypatch.setenv("FIRSTPOINT_DATABASE_URL", fixture_url)
    get_settings.cache_clear()
    yield fixture_url
    get_settings.cache_clear()


def test_json_report_from_settings_database(settings_db: str, capsys) -> None:
    assert main(["report", *PERIOD_ARGS, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"]["summary"] == expected.SUMMARY
    assert doc["value"]["total_gbp"] == "10.89"  # web 4 contained x £2.723


def test_filters_and_grouping(settings_db: str, capsys) -> None:
    args = ["report", *PERIOD_ARGS, "--channel", "web", "--audience", "staff",
            "--group-by", "week", "--format", "json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    # web + staff: rows 3 (declined, Mon 5 Oct), 5 (nu, Tue 20 Oct), 10 (handed_off, Sun 15 Nov)
    assert doc["report"]["summary"]["contacts"] == 3
    assert doc["report"]["summary"]["contained"] == 1
    assert [p["key"] for p in doc["report"]["by_period"]] == [
        "2026-10-05", "2026-10-19", "2026-11-09"]
    assert doc["report"]["group_by"] == "week"
    # value: 1 contained (declined) x 2.723 = £2.72
    assert doc["value"]["total_gbp"] == "2.72"


def test_csv_to_output_file(fixture_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    args = ["report", *PERIOD_ARGS, "--format", "csv", "--output", str(out),
            "--database-url", fixture_url]
    assert main(args) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    contacts = next(r for r in rows if (r["section"], r["metric"]) == ("summary", "contacts"))
    assert contacts["value"] == "12"


def test_table_is_default_format(fixture_url: str, capsys) -> None:
    assert main(["report", *PERIOD_ARGS, "--database-url", fixture_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FirstPoint channel-shift report: 2026-10-01 to 2026-11-30")
    assert "£10.89" in out


def test_default_period_is_last_30_days(fixture_url: str, capsys) -> None:
    assert main(["report", "--format", "json", "--database-url", fixture_url]) == 0
    scope = json.loads(capsys.readouterr().out)["report"]["scope"]
    start, end = default_range(council_today())
    assert (scope["date_from"], scope["date_to"]) == (start.isoformat(), end.isoformat())


def test_empty_database_gives_an_empty_report(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'empty.db'}"  # not even the directory exists
    assert main(["report", *PERIOD_ARGS, "--format", "json", "--database-url", url]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"]["summary"]["contacts"] == 0
    assert doc["report"]["summary"]["containment_rate"] is None
    assert doc["value"]["total_gbp"] == "0.00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-31"],
         "parameter '--from': expected a date YYYY-MM-DD, got '2026-11-31'"),
        (["--to", "30/11/2026"], "parameter '--to': expected a date YYYY-MM-DD"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "2026-12-01 is after '--to' 2026-11-01"),
        (["--top", "0"], "parameter '--top'"),
        (["--channel", "we b"], "parameter 'channel'"),
    ],
)
def test_bad_arguments_give_a_clear_error(args: list[str], message: str, tmp_path: Path,
                                          capsys) -> None:
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    assert main(["report", *args, "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "never-created.db").exists()  # validated before touching the DB


def test_unknown_format_is_rejected_by_argparse(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--format", "xml"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_unreachable_database_is_a_clear_error(capsys) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nothing_listens_here"
    assert main(["report", *PERIOD_ARGS, "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "cannot read the database at 127.0.0.1:1/nothing_listens_here" in err
    assert "OperationalError" in err


def test_bad_council_reporting_section_is_a_clear_error(fixture_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys) -> None:
    yaml = pytest.importorskip("yaml")
    shipped = get_settings().content_dir / "council.yml"
    doc = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    doc["reporting"]["avoided_channel_share"] = {"phone": 0.9, "face_to_face": 0.3}
    (tmp_path / "council.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setenv("FIRSTPOINT_CONTENT_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(["report", *PERIOD_ARGS, "--database-url", fixture_url]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "council.yml" in err and "avoided_channel_share" in err
