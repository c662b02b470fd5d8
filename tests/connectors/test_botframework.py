"""Bot Framework connector: JWT validation, key caching/refresh, token caching, activities.

Keys are generated here; the OpenID metadata, JWKS and token endpoints are the
local fakes of tests/connectors/fakes.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import jwt
import pytest

from connectors.botframework import (
    AuthError,
    ConnectorToken,
    FirstPointBotFrameworkInput,
    OpenIdKeys,
    TokenValidator,
    message_text,
)
from tests.connectors.fakes import FakeServices, SigningKey, mint

APP_ID = "app-123"


@pytest.fixture(scope="module")
def services() -> Iterator[FakeServices]:
    """The fake OpenID / JWKS / token server for this module."""
    fake = FakeServices().start()
    try:
        yield fake
    finally:
        fake.stop()


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _activity(services: FakeServices, channel: str = "msteams") -> dict:
    return {"type": "message", "serviceUrl": services.service_url, "channelId": channel,
            "conversation": {"id": "c1"}, "from": {"id": "u1"}}


def _validator(services: FakeServices, clock: Clock | None = None) -> TokenValidator:
    keys = OpenIdKeys(f"{services.url}/openid", clock=clock or Clock())
    return TokenValidator(keys, APP_ID, leeway=60)


async def test_a_good_token_is_accepted_and_keys_are_fetched_lazily_and_cached(
        services: FakeServices) -> None:
    validator = _validator(services)
    assert validator.keys.fetches == 0  # nothing fetched before the first request
    token = mint(services.key, APP_ID, services.service_url)
    claims = await validator.validate(f"Bearer {token}", _activity(services))
    assert claims["aud"] == APP_ID and claims["serviceUrl"] == services.service_url
    await validator.validate(f"Bearer {token}", _activity(services))
    assert validator.keys.fetches == 1
    await validator.keys.http.close()


def _forgeries(services: FakeServices) -> dict[str, str]:
    key, url = services.key, services.service_url
    good = mint(key, APP_ID, url)
    head, body, sig = good.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["serviceUrl"] = "https://evil.example.org/"
    tampered = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    public_pem = key.private.public_key().public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization",
                            fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization",
                          fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
    hs_header = jwt.utils.base64url_encode(
        json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode()).decode()
    import hashlib
    import hmac as hmac_module

    hs_sig = jwt.utils.base64url_encode(hmac_module.new(
        public_pem, f"{hs_header}.{body}".encode(), hashlib.sha256).digest()).decode()
    none_header = jwt.utils.base64url_encode(
        json.dumps({"alg": "none", "kid": key.kid}).encode()).decode()
    return {
        "expired": mint(key, APP_ID, url, now=time.time() - 3600, lifetime=600),
        "not yet valid": mint(key, APP_ID, url, now=time.time() + 3600),
        "wrong audience": mint(key, "someone-else", url),
        "wrong issuer": mint(key, APP_ID, url, issuer="https://login.example.org"),
        "alg none": f"{none_header}.{body}.",
        "alg none, signature kept": f"{none_header}.{body}.{sig}",
        "HS256 with the public key": f"{hs_header}.{body}.{hs_sig}",
        "unknown key": mint(SigningKey.generate("nobody"), APP_ID, url),
        "right kid, wrong key": mint(SigningKey.generate(key.kid), APP_ID, url),
        "tampered payload": f"{head}.{tampered}.{sig}",
        "serviceUrl claim differs": mint(key, APP_ID, "https://elsewhere.example.org"),
        "no serviceUrl claim": jwt.encode(
            {"iss": "https://api.botframework.com", "aud": APP_ID,
             "exp": int(time.time()) + 600}, key.private, algorithm="RS256",
            headers={"kid": key.kid}),
        "no exp": jwt.encode(
            {"iss": "https://api.botframework.com", "aud": APP_ID, "serviceUrl": url},
            key.private, algorithm="RS256", headers={"kid": key.kid}),
        "not a JWT": "abc.def",
    }


async def test_forged_tokens_are_refused(services: FakeServices) -> None:
    validator = _validator(services)
    refused = {}
    for name, token in _forgeries(services).items():
        try:
            await validator.validate(f"Bearer {token}", _activity(services))
        except AuthError as exc:
            refused[name] = exc.status
    assert refused == {name: 401 for name in _forgeries(services)}
    for header in (None, "", "Basic abc", "Bearer"):
        with pytest.raises(AuthError):
            await validator.validate(header, _activity(services))
    await validator.keys.http.close()


async def test_clock_skew_is_small_but_allowed(services: FakeServices) -> None:
    validator = _validator(services)  # 60 s leeway
    just_expired = mint(services.key, APP_ID, services.service_url,
                        now=time.time() - 630, lifetime=600)  # expired 30 s ago
    await validator.validate(f"Bearer {just_expired}", _activity(services))
    long_expired = mint(services.key, APP_ID, services.service_url,
                        now=time.time() - 700, lifetime=600)  # expired 100 s ago
    with pytest.raises(AuthError):
        await validator.validate(f"Bearer {long_expired}", _activity(services))
    await validator.keys.http.close()


async def test_endorsements_must_include_the_activity_channel(services: FakeServices) -> None:
    validator = _validator(services)
    token = mint(services.key, APP_ID, services.service_url)
    with pytest.raises(AuthError, match="endorsed"):
        await validator.validate(f"Bearer {token}", _activity(services, channel="webchat"))
    await validator.keys.http.close()


async def test_new_keys_are_fetched_on_rollover_but_not_on_every_unknown_kid(
        services: FakeServices) -> None:
    clock = Clock()
    validator = _validator(services, clock)
    await validator.validate(f"Bearer {mint(services.key, APP_ID, services.service_url)}",
                             _activity(services))
    rolled = SigningKey.generate("rolled-over")
    services.keys.append(rolled)
    try:
        token = mint(rolled, APP_ID, services.service_url)
        with pytest.raises(AuthError, match="unknown"):  # fetched moments ago: no refetch yet
            await validator.validate(f"Bearer {token}", _activity(services))
        assert validator.keys.fetches == 1
        clock.now += 301
        await validator.validate(f"Bearer {token}", _activity(services))  # refetched: accepted
        assert validator.keys.fetches == 2
        clock.now += 24 * 3600 + 1
        await validator.validate(f"Bearer {token}", _activity(services))  # daily refresh
        assert validator.keys.fetches == 3
    finally:
        services.keys.remove(rolled)
        await validator.keys.http.close()


async def test_unreachable_metadata_means_503_not_a_crash() -> None:
    keys = OpenIdKeys("http://127.0.0.1:9/openid")
    validator = TokenValidator(keys, APP_ID)
    token = mint(SigningKey.generate(), APP_ID, "https://x.example.org")
    with pytest.raises(AuthError) as err:
        await validator.validate(f"Bearer {token}", {"serviceUrl": "https://x.example.org"})
    assert err.value.status == 503
    await keys.http.close()


async def test_connector_token_is_cached_until_near_expiry(services: FakeServices) -> None:
    clock = Clock()
    token = ConnectorToken(f"{services.url}/token", APP_ID, "pw", clock=clock)
    first = await token.get()
    assert await token.get() == first and token.fetches == 1
    request = services.token_requests[-1]
    assert request == {"grant_type": "client_credentials", "client_id": APP_ID,
                       "client_secret": "pw", "scope": "https://api.botframework.com/.default"}
    clock.now += 3600 - 120 + 1  # within the safety margin of expiry
    second = await token.get()
    assert second != first and token.fetches == 2
    token.invalidate()
    assert await token.get() != second and token.fetches == 3
    await token.http.close()


def test_channel_starts_offline_and_sets_staff_metadata() -> None:
    channel = FirstPointBotFrameworkInput(
        APP_ID, "pw", "http://127.0.0.1:9/openid", "http://127.0.0.1:9/token")
    assert channel.keys.fetches == 0
    meta = channel.get_metadata(None, {"from": {"id": "29:x", "name": "Sam Officer",
                                                "aadObjectId": "aad-1"}})
    assert meta == {"channel": "teams", "audience": "staff",
                    "staff": {"aad_object_id": "aad-1", "name": "Sam Officer"}}


def test_activity_checks() -> None:
    channel = FirstPointBotFrameworkInput(
        APP_ID, "pw", "http://x/openid", "http://x/token", allowed_tenant_ids=["t1"])
    good = {"serviceUrl": "https://smba.trafficmanager.net/uk/", "channelId": "msteams",
            "conversation": {"id": "c"}, "from": {"id": "u"},
            "channelData": {"tenant": {"id": "t1"}}}
    assert channel._check_activity(good) is None
    assert channel._check_activity({**good, "serviceUrl": "http://example.org/"})
    assert channel._check_activity({**good, "serviceUrl": "http://127.0.0.1:5/bf"}) is None
    assert channel._check_activity({**good, "channelId": "webchat"})
    assert channel._check_activity({**good, "channelData": {"tenant": {"id": "other"}}})
    assert channel._check_activity({**good, "from": {}})


def test_message_text_strips_mentions_and_reads_card_payloads() -> None:
    assert message_text({"text": "<at>FirstPoint</at> who orders ink?"}) == "who orders ink?"
    assert message_text({"text": "", "value": {"payload": "/affirm"}}) == "/affirm"
    assert message_text({}) == ""
