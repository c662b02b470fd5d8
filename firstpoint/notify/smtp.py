"""Email notifications over SMTP (stdlib smtplib, run in a worker thread)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from firstpoint.notify.base import Notification, Notifier, NotifierError
from firstpoint.settings import Settings


class SmtpNotifier(Notifier):
    """Sends a plain-text email to ``message.target`` (never blocks the event loop)."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.ssl_context = ssl_context

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpNotifier:
        """A notifier using the FIRSTPOINT_SMTP_* settings."""
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                   settings.smtp_username, settings.smtp_password, settings.smtp_starttls)

    def build(self, message: Notification) -> EmailMessage:
        """The email for ``message`` (its text only: no personal data by construction)."""
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.sender
        email["To"] = message.target
        email["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        email["X-FirstPoint-Reference"] = message.reference
        email["X-Priority"] = "1" if message.priority in ("emergency", "urgent") else "3"
        email.set_content(message.text)
        return email

    async def send(self, message: Notification) -> None:
        """Send the email; any SMTP or network failure becomes :class:`NotifierError`."""
        if not message.target or "@" not in message.target:
            raise NotifierError(f"not an email address: {message.target!r}")
        email = self.build(message)
        await asyncio.to_thread(self._send_blocking, email)

    def _send_blocking(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifierError(f"SMTP server refused the recipient: {exc.recipients}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifierError(
                f"SMTP {self.host}:{self.port} failed: {type(exc).__name__}: {exc}"
            ) from exc
