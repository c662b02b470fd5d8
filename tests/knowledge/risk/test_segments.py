"""Reading a several-point message point by point (knowledge.risk.segments + the assessor)."""

from __future__ import annotations

import dataclasses

from knowledge.risk.assess import RiskAssessor
from knowledge.risk.labels import Level
from knowledge.risk.segments import MAX_SEGMENTS, MIN_WORDS, split_points
from knowledge.safety import SafetyDetector
from tests.knowledge.risk.test_model import DETECTOR, WordHashEmbedder, _model


def test_sentences_and_topic_shifts_make_points() -> None:
    text = ("could you book the blue room for thursday's review please. "
            "also the lad at reception told me his uncle hits him at night")
    assert split_points(text) == [
        "could you book the blue room for thursday's review please.",
        "also the lad at reception told me his uncle hits him at night",
    ]
    assert len(split_points("parking permit renewal form, btw my neighbour's dog barks all day "
                            "and night")) == 2
    assert len(split_points("the first thing is here\nthe second thing on this line")) == 2


def test_one_point_messages_and_short_fragments_are_not_split() -> None:
    assert split_points("when are the bins collected on our road") == []
    assert split_points("thanks. bye") == []  # fragments under MIN_WORDS words
    assert MIN_WORDS >= 3
    # "also" inside a word or without a following word break is no topic shift
    assert split_points("the alsoran horse came in last at the races today") == []


def test_points_are_capped() -> None:
    text = " ".join(f"this is sentence number {n} of many." for n in range(40))
    assert len(split_points(text)) == MAX_SEGMENTS


def test_a_sure_second_point_decides_and_an_unsure_one_does_not() -> None:
    assessor = RiskAssessor(_model(), DETECTOR, WordHashEmbedder())
    routine = "when are the bins collected"
    worry = "my partner hits me and takes my money"
    whole = assessor.assess_many([f"{routine} on monday. also {worry}"], ["resident"])[0]
    alone = assessor.assess_many([routine + " on monday"], ["resident"])[0]
    assert alone.level == Level.NONE
    assert whole.level == Level.HANDOFF and whole.category == "domestic_abuse"
    assessor.point_sure = 1.01  # no point is ever that sure: the whole message decides
    assert assessor.assess_many([f"{routine} on monday. also {worry}"],
                                ["resident"])[0].level != Level.HANDOFF


def test_a_trusted_pattern_the_model_rules_out_gets_the_check_not_a_handoff() -> None:
    detector = SafetyDetector.from_mapping(
        {"categories": {"domestic_abuse": {"phrases": ["murdering"]}}}, where="test.yml"
    )
    model = dataclasses.replace(_model(), override_categories=("domestic_abuse",))
    assessor = RiskAssessor(model, detector, WordHashEmbedder())
    text = "the printer is murdering my afternoon"
    assessor.trusted_floor = 0.5
    verdict = assessor.assess(text, "staff")
    assert verdict.patterns == ("domestic_abuse",)
    assert verdict.p_risk < 0.5  # the fixture model reads it as admin
    assert verdict.level == Level.CHECK and verdict.category == "domestic_abuse"
    assessor.trusted_floor = 0.0  # the pattern alone hands off
    assert assessor.assess(text, "staff").level == Level.HANDOFF
