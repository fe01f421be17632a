"""Prepared actions, members and a loopback mail server for the execution and lifecycle tests.

Preparation is another package's job; these tests write PreparedAction and ActionOption rows
directly, the way the preparation engine stores them.

    team = await Team.open(session)                     # an account with maria (approver), li, ada (admin), vic (viewer)
    action = await make_action(session, team.account, "invoice_follow_up", amount="4200", options=[email_option(to="ap@acme.test")])
    with Mailbox() as mailbox: ...                       # aiosmtpd on 127.0.0.1, a free port
"""

from __future__ import annotations

import email
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member, Role
from tamio.accounts.service import ensure_member
from tamio.config import Settings
from tamio.execution.models import ExecutionRecord
from tamio.preparation.models import ActionOption, ActionType, PreparedAction
from tests.service.books import Books

MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 10, 42, tzinfo=UTC)


def settings_for(port: int = 2525) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///:memory:", use_obligation_for_forecast=True, smtp_host="127.0.0.1", smtp_port=port,
        smtp_sender="tamio@acme.test", smtp_starttls=False,
    )


@dataclass
class Team:
    books: Books
    maria: Member  # approver
    li: Member  # approver
    ada: Member  # admin
    vic: Member  # viewer

    @property
    def account(self) -> Account:
        return self.books.account

    @classmethod
    async def open(cls, session: AsyncSession, *, name: str = "Acme Ltd", timezone: str = "UTC") -> Team:
        books = await Books.open(session, today=MONDAY, name=name)
        books.account.timezone = timezone
        people = {}
        for who, role in (("maria", Role.APPROVER), ("li", Role.APPROVER), ("ada", Role.ADMIN), ("vic", Role.VIEWER)):
            people[who] = await ensure_member(
                session, account_id=books.account.id, slack_user_id=f"U{who.upper()}{books.account.id[-4:]}", display_name=who, role=role, now=NOW
            )
        await session.flush()
        return cls(books, people["maria"], people["li"], people["ada"], people["vic"])


def email_option(*, to: str | None = "ap@client.test", subject: str = "Invoice INV-1 is 12 days late", body: str = "Hi, could you pay INV-1?",
                 kind: str = "send_email", **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "title": "Chase with a firm email", "recipient_email": to, "draft_subject": subject, "draft_body": body, **fields}


def option(kind: str, params: dict[str, Any], *, title: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "title": title or kind.replace("_", " "), "params": params, **fields}


async def make_action(
    session: AsyncSession,
    account: Account,
    action_type: str = "invoice_follow_up",
    *,
    amount: str | None = "4200",
    currency: str | None = None,
    options: list[dict[str, Any]] | None = None,
    tags: tuple[str, ...] = (),
    expires_at: datetime | None = None,
    title: str | None = None,
    **fields: Any,
) -> PreparedAction:
    action = PreparedAction(
        user_id=account.id, action_type=ActionType(action_type), title=title or action_type.replace("_", " ").capitalize(),
        amount=Decimal(amount) if amount is not None else None, currency=currency or account.base_currency, tags=list(tags),
        expires_at=expires_at, created_at=NOW, updated_at=NOW, **fields,
    )
    session.add(action)
    await session.flush()
    for rank, spec in enumerate(options or [email_option()], start=1):
        values = dict(spec)
        if "amount" in values and isinstance(values["amount"], str):
            values["amount"] = Decimal(values["amount"])
        session.add(ActionOption(action_id=action.id, rank=rank, created_at=NOW, **values))
    await session.flush()
    return action


async def first_option(session: AsyncSession, action: PreparedAction) -> ActionOption:
    return (await session.execute(select(ActionOption).where(ActionOption.action_id == action.id).order_by(ActionOption.rank))).scalars().first()  # type: ignore[return-value]


async def options_of(session: AsyncSession, action: PreparedAction) -> list[ActionOption]:
    return list((await session.execute(select(ActionOption).where(ActionOption.action_id == action.id).order_by(ActionOption.rank))).scalars())


async def count_records(session: AsyncSession, action_id: str, *events: str) -> int:
    stmt = select(func.count()).select_from(ExecutionRecord).where(ExecutionRecord.action_id == action_id, ExecutionRecord.event.in_(events))
    return int((await session.execute(stmt)).scalar_one())


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


# -- a real SMTP server on loopback ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Collector:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        with self.mailbox.lock:
            self.mailbox.messages.append(parsed)
            self.mailbox.recipients.append(list(envelope.rcpt_tos))
        return self.mailbox.answer


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives; ``start()`` it late to be "down" first."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self.answer = "250 OK"
        self._controller: Controller | None = None

    def start(self) -> Mailbox:
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if str(m["To"]) == address]
