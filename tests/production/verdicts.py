"""Rasa's own verdict on an action server response, and ours (firstpoint.rasa_patches)."""

from __future__ import annotations

from typing import Any


def rasa_verdict(result: Any) -> str:
    """Return "ok", or the message of Rasa's ``jsonschema.validate`` (its response schema)."""
    from jsonschema import ValidationError, validate
    from rasa.core.actions.action import RemoteAction

    try:
        validate(result, RemoteAction.action_response_format_spec())
    except ValidationError as exc:
        return exc.message
    return "ok"


def our_verdict(result: Any) -> str:
    """Return "ok", or the message of the patched validation (without jsonschema's detail)."""
    from jsonschema import ValidationError

    from firstpoint.rasa_patches import validate_action_result

    try:
        validate_action_result(None, result)
    except ValidationError as exc:
        return exc.message.split(". Failed to validate")[0]
    return "ok"
