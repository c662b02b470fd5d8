"""``synonyms.yml``: the words people use mapped to the words the Service Menu uses.

Read with the one content YAML reader (:func:`knowledge.loader.read_yaml`, which
refuses duplicate keys) and validated phrase by phrase; errors read
``"<file>: synonym '<phrase>': field 'synonyms': ..."``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.loader import read_yaml
from knowledge.schema import ContentError
from knowledge.vocabulary import display_path

SYNONYMS_FILE = "synonyms.yml"


def parse_synonyms(data: Any, file: str) -> dict[str, list[str]]:
    """Validate parsed ``synonyms.yml`` content: ``{synonyms: {phrase: [phrase, ...]}}``."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContentError(file, None, None, "must be a mapping with a 'synonyms' mapping")
    unknown = set(data) - {"synonyms"}
    if unknown:
        raise ContentError(file, None, str(sorted(unknown, key=str)[0]), "unknown field")
    table = data.get("synonyms")
    if not isinstance(table, dict):
        raise ContentError(file, None, "synonyms", "must be a mapping of phrase -> list")
    out: dict[str, list[str]] = {}
    for key, values in table.items():
        phrase = str(key)
        if not phrase.strip():
            raise ContentError(file, phrase, "synonyms", "the phrase is empty", kind="synonym")
        if not isinstance(values, list) or not values:
            raise ContentError(
                file, phrase, "synonyms", "must be a non-empty list of phrases", kind="synonym"
            )
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise ContentError(
                    file, phrase, f"synonyms[{i}]", f"must be a phrase, not {value!r}",
                    kind="synonym",
                )
        out[phrase] = list(values)
    return out


def load_synonyms(content_dir: Path) -> dict[str, list[str]]:
    """Read and validate ``content_dir/synonyms.yml``; ``{}`` when the file is absent."""
    path = Path(content_dir) / SYNONYMS_FILE
    if not path.exists():
        return {}
    return parse_synonyms(read_yaml(path), display_path(path))
