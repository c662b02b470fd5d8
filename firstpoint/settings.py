"""The one place FirstPoint reads the environment.

Everything else takes a :class:`Settings` (usually from :func:`get_settings`)
so tests can pass their own values instead of patching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Where the code is: a source checkout, or site-packages for an installed package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The data directory's name under the user's data directory (installed packages).
APP_NAME = "firstpoint"


def is_checkout(root: Path) -> bool:
    """True when ``root`` is a source checkout (``pyproject.toml`` beside ``firstpoint/``)."""
    return (root / "pyproject.toml").is_file() and (root / "firstpoint").is_dir()


def default_data_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where data goes when ``FIRSTPOINT_VAR_DIR`` is unset: ``<root>/var`` in a checkout,
    else the user's data directory (``$XDG_DATA_HOME/firstpoint``, default
    ``~/.local/share/firstpoint``), never inside an installed package."""
    if is_checkout(root):
        return root / "var"
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / APP_NAME


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _items(value: str | None) -> tuple[str, ...]:
    """A comma-separated list as a tuple of non-blank, stripped items."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Typed settings for every FirstPoint process (Rasa, actions, API, CLI)."""

    project_root: Path = PROJECT_ROOT
    #: The data directory (database, keys, tokens, logs, caches): FIRSTPOINT_VAR_DIR,
    #: default :func:`default_data_dir`.
    var_dir: Path = default_data_dir(PROJECT_ROOT)
    content_dir: Path = PROJECT_ROOT / "knowledge" / "content"
    database_url: str = ""
    data_key: str | None = None
    rasa_port: int = 5005
    action_port: int = 5055
    api_port: int = 8080
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "firstpoint@example.org"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    contact_idle_minutes: int = 30
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    rabbitmq_queue: str = "firstpoint_events"
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_test_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    require_services: bool = False
    # Supervisor console (firstpoint/console/, mounted on the API app at /console).
    #: Rasa's HTTP API as the console reaches it (default: this host's rasa_port).
    rasa_url: str = ""
    #: Rasa's tracker store, read for the console's list of live conversations.
    tracker_url: str = ""
    console_idle_minutes: int = 20
    console_absolute_hours: int = 10
    #: Session cookie ``Secure`` flag; off only for plain-HTTP hosts other than localhost.
    console_secure_cookies: bool = True
    #: Trusted single sign-on: a header set by the council's proxy (off when None) and
    #: the proxy addresses allowed to set it.
    console_sso_header: str | None = None
    console_sso_proxies: tuple[str, ...] = ()
    console_login_attempts: int = 5
    console_lockout_minutes: int = 15
    #: A live takeover nobody watches in the console for this long goes back to the bot.
    console_takeover_idle_seconds: int = 300
    # Channels (connectors/). Secrets stay None unless set in the environment.
    dev_mode: bool = False
    web_port: int = 8000
    web_origins: tuple[str, ...] = ()
    facebook_verify_token: str | None = None
    facebook_app_secret: str | None = None
    facebook_page_token: str | None = None
    facebook_graph_url: str = "https://graph.facebook.com"
    botframework_app_id: str | None = None
    botframework_app_password: str | None = None
    botframework_openid_url: str = (
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    botframework_token_url: str = (
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    )
    botframework_tenant_ids: tuple[str, ...] = ()
    # Hardening and the production path (firstpoint.production, deploy/).
    #: Bearer token Rasa sends to the action server (``firstpoint.actionserver``).
    action_token: str | None = None
    #: Interface the action server binds (loopback unless deliberately changed).
    action_host: str = "127.0.0.1"
    #: Token for Rasa's own HTTP API (``rasa run --enable-api --auth-token``).
    rasa_api_token: str | None = None
    #: Bearer token of the reports API (``firstpoint api``); one is made if unset.
    api_token: str | None = None
    #: Where ``data_key`` was read from, when it came from FIRSTPOINT_DATA_KEY_FILE.
    data_key_file: Path | None = None
    #: Biggest JSON ``metadata`` a channel accepts (bytes).
    metadata_max_bytes: int = 2048
    #: Child-process log files are rotated at this size (bytes), keeping a few.
    log_max_bytes: int = 10 * 1024 * 1024
    #: Seconds between scheduled retention runs (``firstpoint purge``) in a running stack.
    purge_every_seconds: int = 6 * 3600
    #: Production stack (``firstpoint production``): Rasa replicas and action servers.
    replicas: int = 2
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/firstpoint"
    #: Where a local production stack keeps its data key when none is given: outside
    #: ``var_dir`` (FIRSTPOINT_SECRETS_DIR, default ``~/.config/firstpoint``).
    secrets_dir: Path = Path.home() / ".config" / "firstpoint"

    @property
    def sqlite_default(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def rasa_api_url(self) -> str:
        """Rasa's HTTP API (``--enable-api``), as the console calls it."""
        return (self.rasa_url or f"http://127.0.0.1:{self.rasa_port}").rstrip("/")

    @property
    def tracker_database_url(self) -> str:
        """The tracker store's SQL URL (the embedded default: ``var/tracker.db``)."""
        return self.tracker_url or f"sqlite:///{self.var_dir / 'tracker.db'}"

    @property
    def allowed_web_origins(self) -> tuple[str, ...]:
        """Origins whose pages may embed the web widget (the demo page's always may)."""
        demo = (f"http://127.0.0.1:{self.web_port}", f"http://localhost:{self.web_port}")
        return tuple(dict.fromkeys((*self.web_origins, *demo)))


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    home = env.get("FIRSTPOINT_HOME")
    root = Path(home or PROJECT_ROOT).resolve()
    default_var = root / "var" if home else default_data_dir(root, env)
    var_dir = Path(env.get("FIRSTPOINT_VAR_DIR") or default_var).resolve()
    database_url = env.get("FIRSTPOINT_DATABASE_URL") or f"sqlite:///{var_dir / 'firstpoint.db'}"
    rasa_port = int(env.get("FIRSTPOINT_RASA_PORT", "5005"))
    return Settings(
        project_root=root,
        var_dir=var_dir,
        content_dir=Path(
            env.get("FIRSTPOINT_CONTENT_DIR", str(root / "knowledge" / "content"))
        ).resolve(),
        database_url=database_url,
        data_key=env.get("FIRSTPOINT_DATA_KEY") or None,
        rasa_port=rasa_port,
        action_port=int(env.get("FIRSTPOINT_ACTION_PORT", "5055")),
        api_port=int(env.get("FIRSTPOINT_API_PORT", "8080")),
        smtp_host=env.get("FIRSTPOINT_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(env.get("FIRSTPOINT_SMTP_PORT", "25")),
        smtp_sender=env.get("FIRSTPOINT_SMTP_SENDER", "firstpoint@example.org"),
        smtp_username=env.get("FIRSTPOINT_SMTP_USERNAME") or None,
        smtp_password=env.get("FIRSTPOINT_SMTP_PASSWORD") or None,
        smtp_starttls=_flag(env.get("FIRSTPOINT_SMTP_STARTTLS")),
        contact_idle_minutes=int(env.get("FIRSTPOINT_CONTACT_IDLE_MINUTES", "30")),
        rabbitmq_url=env.get("FIRSTPOINT_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
        rabbitmq_queue=env.get("FIRSTPOINT_RABBITMQ_QUEUE", "firstpoint_events"),
        redis_url=env.get("FIRSTPOINT_REDIS_URL", "redis://127.0.0.1:6379/0"),
        postgres_test_url=env.get(
            "FIRSTPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        require_services=_flag(env.get("FIRSTPOINT_REQUIRE_SERVICES")),
        rasa_url=env.get("FIRSTPOINT_RASA_URL", ""),
        tracker_url=env.get("FIRSTPOINT_TRACKER_URL", ""),
        console_idle_minutes=int(env.get("FIRSTPOINT_CONSOLE_IDLE_MINUTES", "20")),
        console_absolute_hours=int(env.get("FIRSTPOINT_CONSOLE_ABSOLUTE_HOURS", "10")),
        console_secure_cookies=not _flag(env.get("FIRSTPOINT_CONSOLE_INSECURE_COOKIES")),
        console_sso_header=env.get("FIRSTPOINT_CONSOLE_SSO_HEADER") or None,
        console_sso_proxies=_items(env.get("FIRSTPOINT_CONSOLE_SSO_PROXIES")),
        console_login_attempts=int(env.get("FIRSTPOINT_CONSOLE_LOGIN_ATTEMPTS", "5")),
        console_lockout_minutes=int(env.get("FIRSTPOINT_CONSOLE_LOCKOUT_MINUTES", "15")),
        console_takeover_idle_seconds=int(
            env.get("FIRSTPOINT_CONSOLE_TAKEOVER_IDLE_SECONDS", "300")),
        dev_mode=_flag(env.get("FIRSTPOINT_DEV_MODE")),
        web_port=int(env.get("FIRSTPOINT_WEB_PORT", "8000")),
        web_origins=_items(env.get("FIRSTPOINT_WEB_ORIGINS")),
        facebook_verify_token=secret_from_env("FIRSTPOINT_FACEBOOK_VERIFY_TOKEN", env),
        facebook_app_secret=secret_from_env("FIRSTPOINT_FACEBOOK_APP_SECRET", env),
        facebook_page_token=secret_from_env("FIRSTPOINT_FACEBOOK_PAGE_TOKEN", env),
        facebook_graph_url=env.get("FIRSTPOINT_FACEBOOK_GRAPH_URL") or Settings.facebook_graph_url,
        botframework_app_id=secret_from_env("FIRSTPOINT_BOTFRAMEWORK_APP_ID", env),
        botframework_app_password=secret_from_env("FIRSTPOINT_BOTFRAMEWORK_APP_PASSWORD", env),
        botframework_openid_url=(
            env.get("FIRSTPOINT_BOTFRAMEWORK_OPENID_URL") or Settings.botframework_openid_url
        ),
        botframework_token_url=(
            env.get("FIRSTPOINT_BOTFRAMEWORK_TOKEN_URL") or Settings.botframework_token_url
        ),
        botframework_tenant_ids=_items(env.get("FIRSTPOINT_BOTFRAMEWORK_TENANT_IDS")),
        **_hardening_from_env(env),
    )


def _hardening_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The hardening / production fields of :class:`Settings` from the environment.

    ``FIRSTPOINT_DATA_KEY_FILE`` names a file holding the data key(s); it is read
    here (when ``FIRSTPOINT_DATA_KEY`` itself is unset) so the key can live outside
    the data directory, e.g. a mounted secret.
    """
    values: dict[str, Any] = {
        "action_token": secret_from_env("FIRSTPOINT_ACTION_TOKEN", env),
        "action_host": env.get("FIRSTPOINT_ACTION_HOST") or Settings.action_host,
        "rasa_api_token": secret_from_env("FIRSTPOINT_RASA_API_TOKEN", env),
        "api_token": secret_from_env("FIRSTPOINT_API_TOKEN", env),
        "metadata_max_bytes": int(env.get("FIRSTPOINT_METADATA_MAX_BYTES", "2048")),
        "log_max_bytes": int(env.get("FIRSTPOINT_LOG_MAX_BYTES", str(Settings.log_max_bytes))),
        "purge_every_seconds": int(env.get("FIRSTPOINT_PURGE_EVERY_SECONDS",
                                           str(Settings.purge_every_seconds))),
        "replicas": int(env.get("FIRSTPOINT_REPLICAS", "2")),
        "postgres_url": env.get("FIRSTPOINT_POSTGRES_URL") or Settings.postgres_url,
        "secrets_dir": Path(env.get("FIRSTPOINT_SECRETS_DIR")
                            or Path(env.get("HOME") or Path.home()) / ".config" / "firstpoint"),
    }
    key_file = env.get("FIRSTPOINT_DATA_KEY_FILE")
    if key_file and not env.get("FIRSTPOINT_DATA_KEY"):
        path = Path(key_file).resolve()
        values["data_key_file"] = path
        values["data_key"] = path.read_text(encoding="ascii").strip() or None
    return values


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret named elsewhere (e.g. a team's Teams webhook URL variable in directory.yml).

    Returns the stripped value of environment variable ``name`` (``os.environ``
    by default), or None when it is unset or blank. Secrets never live in files.
    """
    env = os.environ if environ is None else environ
    value = env.get(name)
    return value.strip() if value and value.strip() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, read from the environment once."""
    return settings_from_env()
