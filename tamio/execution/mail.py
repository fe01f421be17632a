"""Sending drafted emails over SMTP, each at most once per idempotency key.

SMTP has no server-side deduplication, so every outgoing email has a ledger row (an
ExecutionRecord with ``event="email"`` and a unique ``idempotency_key``) written and committed
before the message is handed to the server, and again before the one step that can deliver it:

1. claim: insert the row with ``state="sending"`` and the Message-ID, derived from the row's id
   (``<exr_...@sender-domain>``), so it is the same on every retry;
2. connect, ``MAIL FROM``, ``RCPT TO``: nothing can be delivered yet;
3. record ``state="transmitting"`` (commit), then ``DATA``: from here the server may accept it;
4. mark ``state="sent"`` (commit).

On a retry or a resume: ``sent`` -> not sent again; ``sending`` -> the message never reached
``DATA`` (a server that was down, a refused recipient), so sending it is its first delivery.
``transmitting`` is the ambiguous case: the process died, or the connection broke, after the
server may have accepted the message and before step 4 (a kill -9 in that window sent it twice,
6 runs of 6, before this). It is not sent again silently: the row becomes ``possibly_sent`` and
the attempt fails with a ``PossiblySent`` problem that says so on the card; a person who checks
and retries the action (``retry_requested`` after the flag) sends it once more, with the same
Message-ID. The sender is a small ``EmailSender`` protocol; the real one uses aiosmtplib with the
SMTP settings.

    sender = SmtpEmailSender(settings)
    result = await send_once(sessions, account_id=..., action_id=..., option_id=..., email=email,
                             sender=sender, settings=settings, now=now, attempt=1)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal, Protocol

import aiosmtplib
from aiosmtplib import SMTPResponse
from aiosmtplib.typing import Default
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.audit.service import AuditService
from tamio.config import Settings
from tamio.db import new_id
from tamio.execution.executors import ExecutionProblem, OutgoingEmail
from tamio.execution.models import ExecutionRecord

SENDING, TRANSMITTING, SENT, POSSIBLY_SENT = "sending", "transmitting", "sent", "possibly_sent"
BeforeData = Callable[[], Awaitable[None]]


class PossiblySent(ExecutionProblem):
    """An earlier attempt was cut off while the mail server was accepting the message."""


class EmailSender(Protocol):
    async def send(self, message: EmailMessage, *, before_data: BeforeData) -> None:
        """Send ``message``, awaiting ``before_data`` just before the SMTP ``DATA`` command."""
        ...


class _SMTP(aiosmtplib.SMTP):
    """aiosmtplib's client, with a hook right before ``DATA`` (the first step that can deliver)."""

    def __init__(self, *, before_data: BeforeData, **options: Any) -> None:
        super().__init__(**options)
        self._before_data = before_data

    async def data(
        self, message: str | bytes, /, *, timeout: float | Literal[Default.token] | None = Default.token,  # noqa: ASYNC109
    ) -> SMTPResponse:
        await self._before_data()
        return await super().data(message, timeout=timeout)


class SmtpEmailSender:
    """Hands messages to the SMTP server in the settings (host, port, credentials, STARTTLS)."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    async def send(self, message: EmailMessage, *, before_data: BeforeData) -> None:
        client = _SMTP(
            before_data=before_data, hostname=self.settings.smtp_host, port=self.settings.smtp_port,
            username=self.settings.smtp_username, password=self.settings.smtp_password,
            start_tls=self.settings.smtp_starttls, timeout=self.timeout,
        )
        async with client:
            await client.send_message(message)


# What a mail server (or the way to it) does wrong: said in one line, never as a traceback.
MAIL_ERRORS: tuple[type[BaseException], ...] = (aiosmtplib.SMTPException, OSError, TimeoutError)


def is_permanent(exc: BaseException) -> bool:
    """A 5xx answer (mailbox unknown, message refused) will not change on a retry."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(500 <= r.code < 600 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


def message_id_for(record_id: str, sender: str) -> str:
    domain = sender.rpartition("@")[2].strip(">") or "tamio.local"
    return f"<{record_id}@{domain}>"


def build_message(email: OutgoingEmail, *, message_id: str, sender: str, now: datetime, action_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["X-Tamio-Action"] = action_id
    message.set_content(email.body)
    return message


async def _ledger(db: AsyncSession, key: str) -> ExecutionRecord | None:
    stmt = select(ExecutionRecord).where(ExecutionRecord.idempotency_key == key).execution_options(populate_existing=True)
    return (await db.execute(stmt)).scalars().first()


async def _claim(
    sessions: async_sessionmaker[AsyncSession], *, account_id: str, action_id: str, option_id: str, email: OutgoingEmail,
    settings: Settings, now: datetime, attempt: int,
) -> tuple[str, dict[str, Any]]:
    """The ledger row's id and result, inserted (state ``sending``) unless it exists."""
    async with sessions() as db, db.begin():
        record = await _ledger(db, email.key)
        if record is not None:
            return record.id, dict(record.result or {})
    record_id = new_id("exr")
    result = {
        "state": SENDING, "to": email.to, "subject": email.subject, "counterparty": email.counterparty,
        "message_id": message_id_for(record_id, settings.smtp_sender), "sends": 0,
    }
    try:
        async with sessions() as db, db.begin():
            db.add(
                ExecutionRecord(
                    id=record_id, user_id=account_id, action_id=action_id, option_id=option_id, event="email",
                    from_status="executing", to_status="executing", actor_kind="system", idempotency_key=email.key,
                    attempt=attempt, result=result, created_at=now,
                )
            )
        return record_id, result
    except IntegrityError:  # another worker claimed the same key at the same moment
        async with sessions() as db, db.begin():
            record = await _ledger(db, email.key)
            assert record is not None
            return record.id, dict(record.result or {})


async def _set_state(sessions: async_sessionmaker[AsyncSession], key: str, state: str, **extra: Any) -> dict[str, Any]:
    async with sessions() as db, db.begin():
        record = await _ledger(db, key)
        assert record is not None
        record.result = {**(record.result or {}), "state": state, **extra}
        return dict(record.result)


async def _retries(db: AsyncSession, action_id: str) -> int:
    """How often a person asked for this action to be tried again."""
    return int((await db.execute(select(func.count()).select_from(ExecutionRecord).where(
        ExecutionRecord.action_id == action_id, ExecutionRecord.event == "retry_requested"))).scalar_one())


async def _confirmed_since_flagged(
    sessions: async_sessionmaker[AsyncSession], *, record_id: str, action_id: str, email: OutgoingEmail, now: datetime
) -> bool:
    """Whether a person retried the action after an ambiguous send was flagged; flags it when it is new."""
    async with sessions() as db, db.begin():
        record = await _ledger(db, email.key)
        assert record is not None
        result = dict(record.result or {})
        retries = await _retries(db, action_id)
        if result.get("state") == TRANSMITTING:  # first seen now: flag it, and say so on the card
            record.result = {**result, "state": POSSIBLY_SENT, "flagged_at": now.isoformat(), "retries_when_flagged": retries}
            await AuditService(db, record.user_id, actor="system", clock=lambda: now).log(
                "execute", "email", record_id, {"to": email.to, "subject": email.subject, "message_id": result.get("message_id"),
                                                "action_id": action_id, "state": POSSIBLY_SENT},
            )
            return False
        return retries > int(result.get("retries_when_flagged", 0))


async def send_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    action_id: str,
    option_id: str,
    email: OutgoingEmail,
    sender: EmailSender,
    settings: Settings,
    now: datetime,
    attempt: int,
) -> dict[str, Any]:
    """Send ``email`` unless its ledger says it was sent; returns the ledger's result."""
    record_id, result = await _claim(
        sessions, account_id=account_id, action_id=action_id, option_id=option_id, email=email, settings=settings, now=now, attempt=attempt
    )
    if result.get("state") == SENT:
        return result
    if result.get("state") in (TRANSMITTING, POSSIBLY_SENT) and not await _confirmed_since_flagged(
        sessions, record_id=record_id, action_id=action_id, email=email, now=now
    ):
        raise PossiblySent(
            f"The email to {email.to} (“{email.subject}”) may already have been sent: the mail server was cut off while "
            "accepting it, so Tamio did not send it again by itself.",
            hint="Check with them or in the mailbox it is sent from; retry the action to send it once more (same Message-ID).",
        )
    message = build_message(
        email, message_id=str(result["message_id"]), sender=settings.smtp_sender, now=now, action_id=action_id
    )

    async def transmitting() -> None:
        await _set_state(sessions, email.key, TRANSMITTING)

    try:
        await sender.send(message, before_data=transmitting)
    except aiosmtplib.SMTPResponseException:
        await _set_state(sessions, email.key, SENDING)  # the server answered "no": it did not take the message
        raise
    async with sessions() as db, db.begin():
        record = await _ledger(db, email.key)
        assert record is not None
        done = {**(record.result or {}), "state": SENT, "sent_at": now.isoformat(), "sends": int((record.result or {}).get("sends", 0)) + 1}
        record.result = done
        await AuditService(db, account_id, actor="system", clock=lambda: now).log(
            "execute", "email", record_id, {"to": email.to, "subject": email.subject, "message_id": done["message_id"], "action_id": action_id}
        )
    return done
