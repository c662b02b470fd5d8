"""One speed fix inside Rasa 3.6, installed by the modules Rasa loads from endpoints.yml.

Profiling a full turn (``benchmarks/load_profile.py``) showed Rasa spending about
45 % of it in ``RemoteAction._validate_action_result``: every action server
response is checked with ``jsonschema.validate(result, schema)``, and that call
first re-validates the (constant) schema against the JSON Schema meta-schema,
every time. :func:`install` replaces the method with one that builds the
validator for ``RemoteAction.action_response_format_spec()`` once and checks each
response against it: the same schema, the same errors (``best_match``), the same
message Rasa adds; only the repeated meta-schema check is gone.

Installed on import of :mod:`firstpoint.records.tracker_store` (both stacks'
``endpoints.yml`` name it); :func:`install` is idempotent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_INSTALLED = False


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate does on every call
    return cls(schema)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        "For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Patch ``RemoteAction._validate_action_result`` (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    _INSTALLED = True
