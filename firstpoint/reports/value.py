"""The value of channel shift: what contained digital contacts would have cost elsewhere.

Unit costs per *cost class* (face_to_face, phone, web …) come from the council's
``knowledge/content/council.yml`` ``reporting:`` block, read through
``knowledge.loader.load_council_settings`` when that module exists; otherwise, or
when a caller injects nothing, the Socitm Insight 2011 averages below apply.

The formula, per channel ``ch`` of the report::

    saving_per_contact(ch) = Σ_c share_c × (cost_c − cost[class(ch)])
    value(ch)              = contained(ch) × saving_per_contact(ch)

where ``share_c`` is ``avoided_channel_share`` (the share of digital contacts
that would otherwise have phoned / visited) and ``class(ch)`` is
``channel_cost_class[ch]``. Channels missing from ``channel_cost_class`` are
costed as ``web`` and listed in ``unmapped_channels``.

Which contacts count — the policy (conservative, and tested):

* Only **contained** contacts (``answered`` + ``declined``) are valued: the caller
  got a complete reply without a person, so the phone call or visit really was
  avoided.
* A **handed-off** contact is valued at **zero**, switchboard included. It still
  needed a person — an officer calls or e-mails back, which is itself a mediated
  contact — and the Socitm unit costs are per *whole* transaction: there is no
  evidence-based figure for "the triage part only". Claiming a partial saving
  would overstate the case put to members, so we don't.
* **emergency**, **not_understood**, **abandoned** and still-**open** contacts are
  valued at zero too (the caller most likely phoned or was sent to 999 anyway).
  Their count is reported as ``not_valued`` so readers see what was left out.

Money is :class:`~decimal.Decimal`; each channel's value and the total are
computed unrounded and then rounded half-up to pence, so the total is exact and
may differ by a penny from the sum of the rounded channel lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Protocol

from firstpoint.reports.model import Breakdown, Report

PENNY = Decimal("0.01")
DEFAULT_COST_CLASS = "web"


class ReportingLike(Protocol):
    """What :func:`compute_value` needs; ``knowledge.loader``'s ``Reporting`` fits it."""

    @property
    def unit_costs_gbp(self) -> Mapping[str, Any]: ...

    @property
    def unit_costs_source(self) -> str: ...

    @property
    def channel_cost_class(self) -> Mapping[str, str]: ...

    @property
    def avoided_channel_share(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class UnitCosts:
    """A concrete :class:`ReportingLike` (the defaults, or one built by a test)."""

    unit_costs_gbp: Mapping[str, Any]
    unit_costs_source: str
    channel_cost_class: Mapping[str, str]
    avoided_channel_share: Mapping[str, Any]


SOCITM_2011 = UnitCosts(
    unit_costs_gbp={"face_to_face": "8.62", "phone": "2.83", "web": "0.15"},
    unit_costs_source=(
        "Socitm Insight 2011 average cost per transaction "
        "(face to face £8.62, phone £2.83, web £0.15)"
    ),
    channel_cost_class={"web": "web", "facebook": "web", "teams": "web", "rest": "web"},
    avoided_channel_share={"phone": "0.7", "face_to_face": "0.1"},
)


def load_reporting(content_dir: Path | None = None) -> ReportingLike:
    """The council's ``reporting:`` settings, or :data:`SOCITM_2011` when there are none.

    Uses ``knowledge.loader.load_council_settings(content_dir)`` when that module
    exists and ``content_dir`` holds its council file; a bad council.yml raises the
    loader's error (naming file, entry and field) unchanged. No ``content_dir``, no
    loader module or no council file -> the Socitm 2011 defaults.
    """
    if content_dir is None:
        return SOCITM_2011
    try:
        loader = importlib.import_module("knowledge.loader")
    except ModuleNotFoundError as exc:
        if exc.name not in ("knowledge.loader", "knowledge"):
            raise
        return SOCITM_2011
    load = getattr(loader, "load_council_settings", None)
    council_file = Path(content_dir) / str(getattr(loader, "COUNCIL_FILE", "council.yml"))
    if load is None or not council_file.is_file():
        return SOCITM_2011
    reporting = getattr(load(Path(content_dir)), "reporting", None)
    return reporting if reporting is not None else SOCITM_2011


def _decimal(name: str, key: str, value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"reporting.{name}.{key}: not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"reporting.{name}.{key}: must be a number >= 0, got {value!r}")
    return number


def money(amount: Decimal) -> Decimal:
    """Round to pence, half up."""
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ChannelValue:
    """The value of one channel's contained contacts."""

    channel: str
    cost_class: str
    contained: int
    not_valued: int
    saving_per_contact: Decimal
    value: Decimal

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (money as strings, e.g. ``"12.34"``)."""
        return {
            "channel": self.channel,
            "cost_class": self.cost_class,
            "contained": self.contained,
            "not_valued": self.not_valued,
            "saving_per_contact_gbp": str(self.saving_per_contact),
            "value_gbp": str(self.value),
        }


@dataclass(frozen=True)
class ShiftValue:
    """The value of the shift for a report: per channel and in total."""

    source: str
    unit_costs_gbp: dict[str, Decimal]
    avoided_channel_share: dict[str, Decimal]
    by_channel: list[ChannelValue]
    contained: int
    not_valued: int
    total: Decimal
    unmapped_channels: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (money and shares as strings)."""
        return {
            "unit_costs_source": self.source,
            "unit_costs_gbp": {k: str(v) for k, v in self.unit_costs_gbp.items()},
            "avoided_channel_share": {k: str(v) for k, v in self.avoided_channel_share.items()},
            "by_channel": [c.to_dict() for c in self.by_channel],
            "contained": self.contained,
            "not_valued": self.not_valued,
            "total_gbp": str(self.total),
            "unmapped_channels": list(self.unmapped_channels),
            "policy": (
                "only contained contacts (answered + declined) are valued; handed-off, "
                "emergency, not-understood, abandoned and open contacts count zero"
            ),
        }


def _validated(reporting: ReportingLike) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    costs = {k: _decimal("unit_costs_gbp", k, v) for k, v in reporting.unit_costs_gbp.items()}
    shares = {
        k: _decimal("avoided_channel_share", k, v)
        for k, v in reporting.avoided_channel_share.items()
    }
    for cost_class in shares:
        if cost_class not in costs:
            raise ValueError(
                f"reporting.avoided_channel_share.{cost_class}: no unit cost for this class "
                f"in reporting.unit_costs_gbp"
            )
    if sum(shares.values(), Decimal(0)) > 1:
        raise ValueError("reporting.avoided_channel_share: shares add up to more than 1")
    for channel, cost_class in reporting.channel_cost_class.items():
        if cost_class not in costs:
            raise ValueError(
                f"reporting.channel_cost_class.{channel}: unknown cost class {cost_class!r}"
            )
    if DEFAULT_COST_CLASS not in costs:
        raise ValueError(f"reporting.unit_costs_gbp: needs a '{DEFAULT_COST_CLASS}' cost")
    return costs, shares


def saving_per_contact(
    cost_class: str, costs: Mapping[str, Decimal], shares: Mapping[str, Decimal]
) -> Decimal:
    """Σ_c share_c × (cost_c − cost[cost_class]) for one contained contact (unrounded)."""
    own = costs[cost_class]
    return sum((share * (costs[c] - own) for c, share in shares.items()), Decimal(0))


def _channel_value(
    row: Breakdown,
    reporting: ReportingLike,
    costs: Mapping[str, Decimal],
    shares: Mapping[str, Decimal],
) -> tuple[ChannelValue, Decimal]:
    cost_class = reporting.channel_cost_class.get(row.key, DEFAULT_COST_CLASS)
    per_contact = saving_per_contact(cost_class, costs, shares)
    exact = per_contact * row.figures.contained
    line = ChannelValue(
        channel=row.key,
        cost_class=cost_class,
        contained=row.figures.contained,
        not_valued=row.figures.contacts - row.figures.contained,
        saving_per_contact=per_contact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
        value=money(exact),
    )
    return line, exact


def compute_value(report: Report, reporting: ReportingLike | None = None) -> ShiftValue:
    """The value of the shift for ``report`` (see the module docstring for the policy)."""
    reporting = reporting if reporting is not None else SOCITM_2011
    costs, shares = _validated(reporting)
    lines: list[ChannelValue] = []
    total = Decimal(0)
    for row in report.by_channel:
        line, exact = _channel_value(row, reporting, costs, shares)
        lines.append(line)
        total += exact
    return ShiftValue(
        source=reporting.unit_costs_source,
        unit_costs_gbp=costs,
        avoided_channel_share=shares,
        by_channel=lines,
        contained=sum(line.contained for line in lines),
        not_valued=sum(line.not_valued for line in lines),
        total=money(total),
        unmapped_channels=sorted(
            row.key for row in report.by_channel if row.key not in reporting.channel_cost_class
        ),
    )
