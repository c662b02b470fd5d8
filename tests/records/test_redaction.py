"""Redaction: per-kind recall over the corpus, no false positives on ordinary text."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from firstpoint.records import redaction
from firstpoint.records.redaction import Redactor, luhn_valid, nhs_number_valid

CORPUS_PATH = Path(__file__).with_name("redaction_corpus.yml")
MIN_PER_KIND = 8
MIN_KEEP = 30
REQUIRED_KINDS = {
    "EMAIL", "PHONE", "POSTCODE", "NI_NUMBER", "NHS_NUMBER", "DATE_OF_BIRTH",
    "CARD_NUMBER", "NAME", "ADDRESS",
}


@pytest.fixture(scope="module")
def corpus() -> dict:
    return yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(today=date(2026, 11, 24))


def _placeholders(kind: str) -> tuple[str, ...]:
    return ("[DATE_OF_BIRTH]", "[DATE]") if kind == "DATE_OF_BIRTH" else (f"[{kind}]",)


def test_corpus_is_big_enough(corpus: dict) -> None:
    kinds = corpus["redact"]
    assert set(kinds) >= REQUIRED_KINDS, REQUIRED_KINDS - set(kinds)
    small = {kind: len(examples) for kind, examples in kinds.items()
             if len(examples) < MIN_PER_KIND}
    assert not small, f"kinds with fewer than {MIN_PER_KIND} examples: {small}"
    assert len(corpus["keep"]) >= MIN_KEEP


def test_recall_per_kind(corpus: dict, redactor: Redactor, capsys) -> None:
    misses: list[str] = []
    lines = []
    for kind, examples in corpus["redact"].items():
        hit = 0
        for example in examples:
            out = redactor.redact(example["text"])
            leaked = [v for v in example["values"] if v.lower() in out.lower()]
            # NFKC folds full-width input: check the folded values too
            if not leaked and any(p in out for p in _placeholders(kind)):
                hit += 1
            else:
                misses.append(f"{kind}: {example['text']!r} -> {out!r}")
        lines.append(f"{kind:<14} recall {hit}/{len(examples)} = {hit / len(examples):.2f}")
    with capsys.disabled():
        print("\nredaction recall per kind:\n  " + "\n  ".join(lines))
    assert not misses, "missed:\n" + "\n".join(misses)


def test_ordinary_text_unchanged(corpus: dict, redactor: Redactor, capsys) -> None:
    changed = [(t, redactor.redact(t)) for t in corpus["keep"]]
    changed = [(t, out) for t, out in changed if out != t]
    with capsys.disabled():
        print(f"\nfalse positives on ordinary corpus: {len(changed)}/{len(corpus['keep'])}")
    assert not changed, changed


def test_check_digits() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert nhs_number_valid("943 476 5919")
    assert not nhs_number_valid("943 476 5918")
    assert not nhs_number_valid("12345")


def test_ten_digit_number_without_check_digit_or_context_is_kept(redactor: Redactor) -> None:
    assert redactor.redact("order 943 476 5918 shipped") == "order 943 476 5918 shipped"


def test_card_number_needs_luhn(redactor: Redactor) -> None:
    assert redactor.redact("ref 4111 1111 1111 1112") == "ref 4111 1111 1111 1112"


def test_recent_date_kept_old_date_redacted(redactor: Redactor) -> None:
    assert redactor.redact("meeting on 14/11/2026") == "meeting on 14/11/2026"
    assert redactor.redact("it was 14/11/1970") == "it was [DATE]"


def test_several_kinds_in_one_message(redactor: Redactor) -> None:
    text = ("Hi I'm Priya Shah, 07700 900123, priya@example.com, SW1A 1AA, "
            "NI QQ123456C, card 4111111111111111")
    out = redactor.redact(text)
    for placeholder in ("[NAME]", "[PHONE]", "[EMAIL]", "[POSTCODE]", "[NI_NUMBER]",
                        "[CARD_NUMBER]"):
        assert placeholder in out, out
    for secret in ("Priya", "Shah", "900123", "priya@", "1AA", "123456", "4111"):
        assert secret not in out, out


def test_huge_input_is_cut_and_fast(redactor: Redactor) -> None:
    text = ("my name is Jo Bloggs and my number is 07700 900123. " * 2000)
    start = time.perf_counter()
    out = redactor.redact(text)
    elapsed = time.perf_counter() - start
    assert len(out) <= 5000
    assert "Bloggs" not in out and "900123" not in out
    assert elapsed < 5.0


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02 control",
        "\u202e\u202d bidi overrides",
        "😀" * 3000,
        "\ud800 lone surrogate",
        "Ｍｙ ｎａｍｅ ｉｓ Ｊｏ",
        "\u0661\u0662\u0663 arabic digits \u0968\u0969",
        "(((((((((((((((((((((((((((((" * 100,
        "0" * 6000,
        "1-" * 3000,
        "",
        "   ",
    ],
)
def test_odd_unicode_does_not_crash(redactor: Redactor, text: str) -> None:
    out = redactor.redact(text)
    assert isinstance(out, str)
    assert len(out) <= 5000


def test_fullwidth_name_and_digits_are_redacted(redactor: Redactor) -> None:
    assert redactor.redact("Ｍｙ ｎａｍｅ ｉｓ Ｊｏ") == "My name is [NAME]"
    assert redactor.redact("call ０７７００ ９００１２３") == "call [PHONE]"


def test_module_level_redact_uses_lazy_default(monkeypatch) -> None:
    monkeypatch.setattr(redaction, "_default", None)
    assert redaction.redact("email jo@example.com") == "email [EMAIL]"
    assert redaction._default is not None


def _old_luhn(digits: str) -> bool:
    """The hand-rolled Luhn check the redactor used before python-stdnum (the oracle)."""
    values = [int(d) for d in digits]
    if not values:
        return False
    total = 0
    for index, digit in enumerate(reversed(values)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _old_nhs(digits: str) -> bool:
    """The hand-rolled NHS mod-11 check used before python-stdnum (the oracle)."""
    values = [int(d) for d in digits]
    if len(values) != 10:
        return False
    total = sum(d * w for d, w in zip(values[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == values[9]


def test_library_check_digits_agree_with_the_hand_rolled_ones() -> None:
    """python-stdnum's Luhn and NHS checks give the old answers on 20,000 random numbers."""
    import random

    rng = random.Random(10)
    for _ in range(10_000):
        card = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19)))
        assert luhn_valid(card) == _old_luhn(card), card
        nhs = "".join(rng.choice("0123456789") for _ in range(rng.choice((9, 10, 10, 10, 11))))
        assert nhs_number_valid(nhs) == _old_nhs(nhs), nhs
    # Published test numbers, spacing and non-ASCII digits as callers type them.
    for card in ("378282246310005", "4012 8888 8888 1881", "5555-5555-5555-4444"):
        assert luhn_valid(card)
    assert nhs_number_valid("943-476-5919")
    assert nhs_number_valid("９４３４７６５９１９")  # full-width digits
    assert not nhs_number_valid("")
    assert not luhn_valid("")
