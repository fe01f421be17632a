"""Sending drafted emails over SMTP, each at most once per idempotency key.

SMTP has no server-side deduplication, so every outgoing email has a ledger row (an
ExecutionRecord with ``event="email"`` and a unique ``idempotency_key``) written and committed
*before* the message is handed to the server:

1. claim: insert the row with ``state="sending"`` and the Message-ID, derived from the row's id
   (``<exr_...@sender-domain>``), so it is the same on every retry;
2. send;
3. mark ``state="sent"`` (commit).

On a retry or a resume: ``sent`` -> not sent again. ``sending`` is the ambiguous case (the process
died, or the connection broke, after the server may have accepted the message but before step 3):
the message is sent again *with the same Message-ID*, so a recipient's mail system, which
deduplicates by Message-ID, shows it once. A server that was down never accepted it, so the
resend is its first delivery. The sender is a small ``EmailSender`` protocol; the real one uses
aiosmtplib with the SMTP settings.

    sender = SmtpEmailSender(settings)
    result = await send_once(sessions, account_id=..., action_id=..., option_id=..., email=email,
                             sender=sender, settings=settings, now=now, attempt=1)
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.audit.service import AuditService
from tamio.config import Settings
from tamio.db import new_id
from tamio.execution.executors import OutgoingEmail
from tamio.execution.models import ExecutionRecord

SENDING, SENT = "sending", "sent"


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpEmailSender:
    """Hands messages to the SMTP server in the settings (host, port, credentials, STARTTLS)."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_username,
            password=self.settings.smtp_password,
            start_tls=self.settings.smtp_starttls,
            timeout=self.timeout,
        )


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
    message = build_message(
        email, message_id=str(result["message_id"]), sender=settings.smtp_sender, now=now, action_id=action_id
    )
    await sender.send(message)
    async with sessions() as db, db.begin():
        record = await _ledger(db, email.key)
        assert record is not None
        done = {**(record.result or {}), "state": SENT, "sent_at": now.isoformat(), "sends": int((record.result or {}).get("sends", 0)) + 1}
        record.result = done
        await AuditService(db, account_id, actor="system", clock=lambda: now).log(
            "execute", "email", record_id, {"to": email.to, "subject": email.subject, "message_id": done["message_id"], "action_id": action_id}
        )
    return done
