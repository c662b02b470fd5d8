"""Speed fixes inside Rasa 3.6, installed by the modules Rasa loads from endpoints.yml.

1. **Action response validation, built once.** Profiling a full turn
   (``benchmarks/load_profile.py``) showed Rasa spending about 45 % of it in
   ``RemoteAction._validate_action_result``: every action server response is
   checked with ``jsonschema.validate(result, schema)``, and that call first
   re-validates the (constant) schema against the JSON Schema meta-schema, every
   time. :func:`validate_action_result` builds the validator for
   ``RemoteAction.action_response_format_spec()`` once and checks each response
   against it: the same schema, the same errors (``best_match``), the same message
   Rasa adds; only the repeated meta-schema check is gone. A valid response is
   recognised without trying all of the event schema's ``oneOf`` alternatives for
   each event (:func:`_fast_check`); anything else goes through the full check.

2. **The domain once per action server, not on every call.** Rasa 3.6 puts
   ``domain.as_dict()`` (FirstPoint's is most of each request) into every action
   server call, and rasa-sdk parses it every time. With ``domain_digest: true`` in
   ``endpoints.yml``'s ``action_endpoint`` a call carries
   ``firstpoint_domain_digest`` (SHA-256 of the domain's canonical JSON, computed
   once per loaded domain) instead of the domain. FirstPoint's action server
   (:mod:`firstpoint.actionserver`) keeps each domain it has been sent under its
   digest and puts it back into the call before rasa-sdk runs the action, so the
   action (forms and validation actions read the domain's slots and forms) gets
   exactly the dict Rasa would have sent. When it does not have that domain (it
   restarted, another replica, a new model) it answers **449**; the call is then
   repeated once with the domain (and the digest), as Rasa sends it without the
   option. Without the option nothing changes; an action server that does not know
   the protocol ignores the unknown key and must not be used with the option (it
   would get no domain).

Installed on import of :mod:`firstpoint.records.tracker_store` (both stacks'
``endpoints.yml`` name it); :func:`install` is idempotent.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from functools import lru_cache
from typing import Any

_INSTALLED = False

#: The key an action call carries instead of the domain (``domain_digest: true``).
DIGEST_KEY = "firstpoint_domain_digest"
#: ``action_endpoint`` option in endpoints.yml that turns the digest protocol on.
ENDPOINT_OPTION = "domain_digest"
#: The action server's answer to a digest it holds no domain for ("retry with").
DOMAIN_MISSING_STATUS = 449
_DIGEST_ATTRIBUTE = "_firstpoint_domain_digest"
#: Set while a call is repeated after a 449: send the domain this time.
_SEND_DOMAIN: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "firstpoint_send_domain", default=False)


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate does on every call
    return cls(schema)


@lru_cache(maxsize=1)
def _fast_check() -> Any:
    """A check that says "valid" only where Rasa's schema does, without its ``oneOf`` scan.

    Each event must match exactly one of the ~23 alternatives of Rasa's event
    schema (``oneOf``), so jsonschema tries every alternative for every event.
    Each alternative pins ``event`` to its own constant, and the surrounding
    schema requires ``event`` as a string, so an event can only match the
    alternative with its own name: checking the schema without the ``oneOf`` and
    then that one alternative decides the same. Returns ``None`` (no fast path)
    if Rasa's schema is not shaped like that.
    """
    import copy

    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    try:
        event_schema = schema["properties"]["events"]["items"]
        alternatives = event_schema["oneOf"]
        assert event_schema["required"] == ["event"]
        assert event_schema["properties"]["event"] == {"type": "string"}
        assert set(event_schema) == {"type", "properties", "required", "oneOf"}
        names = [alt["properties"]["event"]["const"] for alt in alternatives]
        assert len(set(names)) == len(names)
    except (KeyError, TypeError, AssertionError):
        return None
    shell = copy.deepcopy(schema)
    del shell["properties"]["events"]["items"]["oneOf"]
    by_name = {name: cls(alt) for name, alt in zip(names, alternatives, strict=True)}
    shell_validator = cls(shell)

    def valid(result: Any) -> bool:
        if not shell_validator.is_valid(result):
            return False
        for event in result.get("events", ()):  # a list of objects with a string "event"
            alternative = by_name.get(event["event"])
            if alternative is None or not alternative.is_valid(event):
                return False
        return True

    return valid


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result`` with the validator built once
    (and a fast path for valid responses; anything else gets Rasa's full check)."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    fast = _fast_check()
    if fast is not None and fast(result):
        return True
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


# ---------------------------------------------------------------------- domain digest


def digest_of(domain_dict: dict[str, Any]) -> str:
    """SHA-256 (hex) of a domain dict's canonical JSON; the same on both sides of the wire."""
    text = json.dumps(domain_dict, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def domain_digest(domain: Any) -> str:
    """The digest of a Rasa ``Domain`` (computed once per loaded domain object)."""
    cached = domain.__dict__.get(_DIGEST_ATTRIBUTE)
    if cached is None:
        cached = digest_of(domain.as_dict())
        domain.__dict__[_DIGEST_ATTRIBUTE] = cached
    return str(cached)


def uses_digest(endpoint: Any) -> bool:
    """True when ``action_endpoint`` has ``domain_digest: true``."""
    if endpoint is None:
        return False
    value = endpoint.kwargs.get(ENDPOINT_OPTION, False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


_ORIGINAL_CALL_FORMAT: Any = None
_ORIGINAL_RUN: Any = None


def action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
    """Rasa's action call, with the domain's digest in place of the domain (option on)."""
    result: dict[str, Any] = _ORIGINAL_CALL_FORMAT(self, tracker, domain)
    if not uses_digest(self.action_endpoint):
        return result
    result[DIGEST_KEY] = domain_digest(domain)
    if _SEND_DOMAIN.get():
        if "domain" not in result:  # Rasa's selective domain left it out
            result["domain"] = domain.as_dict()
    else:
        result.pop("domain", None)
    return result


def _domain_missing(exc: BaseException) -> bool:
    from rasa.utils.endpoints import ClientResponseError

    cause = exc.__cause__
    return isinstance(cause, ClientResponseError) and cause.status == DOMAIN_MISSING_STATUS


async def run_remote_action(self: Any, output_channel: Any, nlg: Any, tracker: Any,
                            domain: Any) -> Any:
    """Rasa's ``RemoteAction.run``; after a 449 the call is repeated once with the domain."""
    from rasa.shared.exceptions import RasaException

    if not uses_digest(self.action_endpoint) or _SEND_DOMAIN.get():
        return await _ORIGINAL_RUN(self, output_channel, nlg, tracker, domain)
    try:
        return await _ORIGINAL_RUN(self, output_channel, nlg, tracker, domain)
    except RasaException as exc:
        if not _domain_missing(exc):
            raise
    token = _SEND_DOMAIN.set(True)
    try:
        return await _ORIGINAL_RUN(self, output_channel, nlg, tracker, domain)
    finally:
        _SEND_DOMAIN.reset(token)


def install() -> None:
    """Patch ``RemoteAction`` (once per process): validation, call format, 449 retry."""
    global _INSTALLED, _ORIGINAL_CALL_FORMAT, _ORIGINAL_RUN
    if _INSTALLED:
        return
    from rasa.core.actions.action import RemoteAction

    _ORIGINAL_CALL_FORMAT = RemoteAction._action_call_format
    _ORIGINAL_RUN = RemoteAction.run
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    RemoteAction._action_call_format = action_call_format  # type: ignore[method-assign]
    RemoteAction.run = run_remote_action  # type: ignore[method-assign]
    _INSTALLED = True
