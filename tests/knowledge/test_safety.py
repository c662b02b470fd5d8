"""The safety detector: pattern syntax, validation, and recall on the disclosure corpora."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.safety import CATEGORIES, SafetyDetector, SafetyPatternError, default_detector

DATA = Path(__file__).resolve().parent.parent / "data"


def _detector(spec: dict) -> SafetyDetector:
    return SafetyDetector.from_mapping(spec, where="test.yml")


def test_phrase_syntax_alternatives_optional_wildcards_and_lemmas() -> None:
    det = _detector(
        {"categories": {"danger": {"phrases": ["threaten to kill|stab (me|us)", "set ** on fire"]}}}
    )
    assert det.detect("He THREATENED to stab us").categories == ("danger",)
    assert det.detect("they threatened to kill").categories == ("danger",)
    assert det.detect("someone set the bins on fire").categories == ("danger",)
    assert not det.detect("kill the lights please").flagged


def test_near_rules_sets_and_exclusions() -> None:
    det = _detector(
        {
            "sets": {"child": ["child", "little one"]},
            "categories": {
                "child_safeguarding": {
                    "near": [{"window": 3, "a": ["@child"], "b": ["bruise"]}],
                    "exclude": ["bruise on the apple"],
                }
            },
        }
    )
    assert det.detect("the little one had bruises again").flagged
    assert not det.detect("the children ate lunch and later we talked about bruises").flagged
    assert not det.detect("the child found a bruise on the apple").flagged


def test_multi_word_alternatives_with_underscores() -> None:
    det = _detector({"categories": {"casework": {"phrases": ["my social_worker|key_worker"]}}})
    assert det.detect("I need my key worker").flagged
    assert not det.detect("my key to the office").flagged


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"categories": {"nonsense": {}}}, "category 'nonsense': unknown"),
        ({"categories": {"danger": {"phrase": []}}}, "field 'phrase': unknown field"),
        ({"categories": {"danger": {"phrases": ["(maybe)"]}}}, "has no required word"),
        ({"categories": {"danger": {"phrases": ["@nope x"]}}}, "unknown set '@nope'"),
        ({"categories": {"danger": {"near": [{"a": ["x"]}]}}}, "field 'near[0]'"),
        ({"categories": []}, "field 'categories'"),
    ],
)
def test_malformed_patterns_name_file_category_and_field(spec: dict, message: str) -> None:
    with pytest.raises(SafetyPatternError) as err:
        _detector(spec)
    assert "test.yml" in str(err.value)
    assert message in str(err.value)


def test_danger_with_a_specific_category_routes_to_the_specific_team() -> None:
    result = default_detector().detect("my husband has a knife and says he will kill me")
    assert result.is_emergency
    assert "danger" in result.categories and "domestic_abuse" in result.categories
    assert result.routing_category == "domestic_abuse"


def test_odd_input_does_not_crash() -> None:
    det = default_detector()
    for text in ["", "   ", "\u0000\u202e", "🙂" * 3000, "a" * 100_000, "Ｋｎｉｆｅ"]:
        det.detect(text)


def _load(name: str, key: str) -> list[dict]:
    return list(yaml.safe_load((DATA / name).read_text(encoding="utf-8"))[key])


def test_every_disclosure_in_the_corpus_is_flagged() -> None:
    det = default_detector()
    items = _load("disclosures.yml", "disclosures")
    missed = [i["text"] for i in items if not det.detect(i["text"]).flagged]
    assert len(items) >= 60
    assert missed == [], f"{len(missed)} of {len(items)} disclosures missed"


def test_ordinary_questions_are_rarely_flagged() -> None:
    det = default_detector()
    items = _load("ordinary_questions.yml", "ordinary")
    flagged = [i["text"] for i in items if det.detect(i["text"]).flagged]
    rate = len(flagged) / len(items)
    print(f"false-flag rate on ordinary questions: {len(flagged)}/{len(items)} = {rate:.1%}")
    assert rate <= 0.05, flagged


def test_categories_are_known() -> None:
    det = default_detector()
    for item in _load("disclosures.yml", "disclosures"):
        assert set(det.detect(item["text"]).categories) <= set(CATEGORIES)
