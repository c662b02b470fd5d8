"""The value of the shift, computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from firstpoint.reports.model import Breakdown, Demand, Figures, Report, Scope, Topics
from firstpoint.reports.value import (
    SOCITM_2011,
    UnitCosts,
    compute_value,
    load_reporting,
    money,
    saving_per_contact,
)


def figures(**outcomes: int) -> Figures:
    counts = {k: outcomes.get(k, 0) for k in (
        "answered", "declined", "handed_off", "emergency", "not_understood", "abandoned", "open")}
    return Figures(contacts=sum(counts.values()), outcomes=counts, helpful=0, not_helpful=0)


def report_with(*channels: tuple[str, Figures]) -> Report:
    total = figures()
    return Report(
        scope=Scope(date(2026, 11, 1), date(2026, 11, 30)),
        group_by="month",
        summary=total,
        by_channel=[Breakdown(key, fig) for key, fig in channels],
        by_audience=[],
        by_period=[],
        escalation_by_team=[],
        demand=Demand(matrix=[[0] * 24 for _ in range(7)], by_month=[]),
        topics=Topics([], []),
    )


def test_socitm_defaults_per_contact_saving() -> None:
    # 0.7 x (2.83 - 0.15) + 0.1 x (8.62 - 0.15) = 0.7 x 2.68 + 0.1 x 8.47 = 1.876 + 0.847 = 2.723
    costs = {k: Decimal(v) for k, v in SOCITM_2011.unit_costs_gbp.items()}
    shares = {k: Decimal(v) for k, v in SOCITM_2011.avoided_channel_share.items()}
    assert saving_per_contact("web", costs, shares) == Decimal("2.723")


def test_value_of_the_fixture_report() -> None:
    # Fixture (tests/reports/expected.py): web contained 4, facebook contained 0.
    # web: 4 x 2.723 = 10.892 -> £10.89; facebook: 0 -> £0.00; total £10.89
    report = report_with(
        ("facebook", figures(handed_off=2, emergency=1, abandoned=1, not_understood=1)),
        ("web", figures(answered=3, declined=1, handed_off=1, not_understood=1, open=1)),
    )
    value = compute_value(report)
    lines = {v.channel: v for v in value.by_channel}
    assert lines["web"].value == Decimal("10.89")
    assert lines["web"].saving_per_contact == Decimal("2.7230")
    assert (lines["web"].contained, lines["web"].not_valued) == (4, 3)
    assert lines["facebook"].value == Decimal("0.00")
    assert (lines["facebook"].contained, lines["facebook"].not_valued) == (0, 5)
    assert value.total == Decimal("10.89")
    assert (value.contained, value.not_valued) == (4, 8)


def test_handed_off_contacts_save_nothing() -> None:
    # Policy: a handed-off contact still needed a person -> zero value (switchboard included).
    only_handoffs = compute_value(report_with(("web", figures(handed_off=100, emergency=5))))
    assert only_handoffs.total == Decimal("0.00")
    assert only_handoffs.not_valued == 105
    # Adding 100 hand-offs to 1 answered contact changes nothing: still 1 x 2.723 = £2.72
    mixed = compute_value(report_with(("web", figures(answered=1, handed_off=100))))
    assert mixed.total == Decimal("2.72")


def test_declined_counts_as_contained() -> None:
    # declined = "Business Support doesn't do this, here is who does" -> no call needed
    assert compute_value(report_with(("web", figures(declined=10)))).total == Decimal("27.23")


def test_injected_reporting_and_cost_classes() -> None:
    # phone 3.00, f2f 10.00, web 0.50, kiosk 1.00; shares phone 0.5, f2f 0.25
    # web-class channel:   0.5 x (3.00 - 0.50) + 0.25 x (10.00 - 0.50) = 1.25 + 2.375 = 3.625
    #   x 4 contained = 14.50
    # kiosk-class channel: 0.5 x (3.00 - 1.00) + 0.25 x (10.00 - 1.00) = 1.00 + 2.25 = 3.25
    #   x 2 contained = 6.50
    # total 14.50 + 6.50 = 21.00
    reporting = UnitCosts(
        unit_costs_gbp={"phone": 3.0, "face_to_face": 10.0, "web": 0.5, "kiosk": 1.0},
        unit_costs_source="test figures",
        channel_cost_class={"web": "web", "library": "kiosk"},
        avoided_channel_share={"phone": 0.5, "face_to_face": 0.25},
    )
    value = compute_value(
        report_with(("library", figures(answered=2)), ("web", figures(answered=4))), reporting
    )
    lines = {v.channel: v for v in value.by_channel}
    assert lines["web"].value == Decimal("14.50")
    assert (lines["library"].cost_class, lines["library"].value) == ("kiosk", Decimal("6.50"))
    assert value.total == Decimal("21.00")
    assert value.source == "test figures"
    assert value.unmapped_channels == []


def test_unmapped_channel_is_costed_as_web_and_listed() -> None:
    value = compute_value(report_with(("whatsapp", figures(answered=1))))
    assert value.by_channel[0].cost_class == "web"
    assert value.total == Decimal("2.72")
    assert value.unmapped_channels == ["whatsapp"]


def test_money_rounds_half_up_to_pence() -> None:
    # 0.5 x (0.275 - 0.025) = 0.125 -> £0.13 (half up; banker's rounding would give £0.12)
    reporting = UnitCosts({"phone": "0.275", "web": "0.025"}, "t", {"web": "web"}, {"phone": "0.5"})
    assert compute_value(report_with(("web", figures(answered=1))), reporting).total == Decimal(
        "0.13"
    )
    assert money(Decimal("2.345")) == Decimal("2.35")


def test_total_is_rounded_once_not_summed_from_rounded_lines() -> None:
    # per contact 0.5 x (0.02 - 0.01) = 0.005; channels a and b each 1 contact:
    # lines round to £0.01 each (0.005 half-up) but the exact total 0.010 is £0.01.
    reporting = UnitCosts({"phone": "0.02", "web": "0.01"}, "t", {"a": "web", "b": "web"},
                          {"phone": "0.5"})
    value = compute_value(report_with(("a", figures(answered=1)), ("b", figures(answered=1))),
                          reporting)
    assert [v.value for v in value.by_channel] == [Decimal("0.01"), Decimal("0.01")]
    assert value.total == Decimal("0.01")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"avoided_channel_share": {"phone": 0.7, "bus": 0.1}}, "avoided_channel_share.bus"),
        ({"avoided_channel_share": {"phone": 0.8, "face_to_face": 0.3}}, "more than 1"),
        ({"unit_costs_gbp": {"phone": -1, "face_to_face": 8.62, "web": 0.15}},
         "unit_costs_gbp.phone"),
        ({"channel_cost_class": {"web": "carrier-pigeon"}}, "channel_cost_class.web"),
    ],
)
def test_bad_reporting_settings_name_the_field(change: dict, message: str) -> None:
    reporting = replace(SOCITM_2011, **change)
    with pytest.raises(ValueError, match=message):
        compute_value(report_with(("web", figures(answered=1))), reporting)


def test_load_reporting_defaults_without_council_file(tmp_path: Path) -> None:
    assert load_reporting(None) is SOCITM_2011
    assert load_reporting(tmp_path) is SOCITM_2011  # no council.yml there


def test_value_is_json_ready() -> None:
    doc = compute_value(report_with(("web", figures(answered=4)))).to_dict()
    assert doc["total_gbp"] == "10.89"
    assert doc["by_channel"][0]["saving_per_contact_gbp"] == "2.7230"
    assert doc["unit_costs_gbp"]["phone"] == "2.83"


def test_load_reporting_reads_council_yml(tmp_path: Path) -> None:
    # The shipped council.yml with the phone cost changed to £3.50:
    # per web contact 0.7 x (3.50 - 0.15) + 0.1 x (8.62 - 0.15) = 2.345 + 0.847 = 3.192
    yaml = pytest.importorskip("yaml")
    from firstpoint.settings import get_settings

    shipped = get_settings().content_dir / "council.yml"
    if not shipped.is_file():
        pytest.fail(f"{shipped} is missing: the reports need its reporting: section")
    doc = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    doc["reporting"]["unit_costs_gbp"]["phone"] = 3.50
    (tmp_path / "council.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    reporting = load_reporting(tmp_path)
    assert reporting is not SOCITM_2011
    value = compute_value(report_with(("web", figures(answered=1))), reporting)
    assert value.by_channel[0].saving_per_contact == Decimal("3.1920")
    assert value.total == Decimal("3.19")
