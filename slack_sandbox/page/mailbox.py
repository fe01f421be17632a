"""A local SMTP server that keeps what it receives, so approving a drafted email in the sandbox sends it.

Tamio's executors send reminders and follow-ups over SMTP (``SMTP_HOST``/``SMTP_PORT``). In the
sandbox there is no mail server, so the app is pointed here: the message really leaves the app over
SMTP and lands in ``Mailbox.mails``, which the page shows under "Mail sent". It speaks the part of
SMTP a client needs (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), on 127.0.0.1 only.

    mailbox = Mailbox(on_change=feed.bump)
    await mailbox.start()                    # mailbox.port is the port to give SMTP_PORT
    ...                                      # aiosmtplib.send(message, hostname="127.0.0.1", port=mailbox.port)
    mailbox.mails[0].subject
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Mail:
    """One message as received: the envelope and the parts a person reads."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    to: str
    body: str
    received_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "sender": self.sender,
            "recipients": list(self.recipients),
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "received_at": self.received_at,
        }


def read_mail(raw: bytes, *, sender: str, recipients: list[str], received_at: float) -> Mail:
    parsed = message_from_bytes(raw, policy=email_policy.default)
    body = ""
    if isinstance(parsed, EmailMessage):
        part = parsed.get_body(preferencelist=("plain", "html"))
        if part is not None and isinstance(part, EmailMessage):
            body = str(part.get_content())
    return Mail(
        sender=sender,
        recipients=tuple(recipients),
        subject=str(parsed.get("Subject", "")),
        to=str(parsed.get("To", "")) or ", ".join(recipients),
        body=body.replace("\r\n", "\n").strip(),
        received_at=received_at,
    )


def _address(argument: str) -> str:
    """``FROM:<a@b.example> SIZE=12`` -> ``a@b.example``."""
    value = argument.split(":", 1)[1].strip() if ":" in argument else argument.strip()
    if value.startswith("<"):
        value = value[1 : value.find(">")] if ">" in value else value[1:]
    return value.split(" ", 1)[0]


class Mailbox:
    """An SMTP server on 127.0.0.1 that accepts every message and keeps it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host, self.port = host, port
        self.on_change, self.clock = on_change, clock
        self.mails: list[Mail] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, recipients = "", list[str]()
        try:
            await say("220 sandbox.tamio.local ESMTP Tamio sandbox mailbox")
            while True:
                line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    return
                verb, _, argument = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    await say("250-sandbox.tamio.local")
                    await say("250-8BITMIME")
                    await say("250-SMTPUTF8")
                    await say(f"250 SIZE {MAX_MESSAGE_BYTES}")
                elif verb == "HELO":
                    await say("250 sandbox.tamio.local")
                elif verb == "MAIL":
                    sender, recipients = _address(argument), []
                    await say("250 OK")
                elif verb == "RCPT":
                    recipients.append(_address(argument))
                    await say("250 OK")
                elif verb == "DATA":
                    if not recipients:
                        await say("503 RCPT first")
                        continue
                    await say("354 End data with <CR><LF>.<CR><LF>")
                    raw = await self._data(reader)
                    self.mails.append(read_mail(raw, sender=sender, recipients=recipients, received_at=self.clock()))
                    if self.on_change is not None:
                        self.on_change()
                    sender, recipients = "", []
                    await say("250 OK: kept in the sandbox mailbox")
                elif verb in ("RSET", "NOOP"):
                    if verb == "RSET":
                        sender, recipients = "", []
                    await say("250 OK")
                elif verb == "QUIT":
                    await say("221 Bye")
                    return
                else:
                    await say("502 Command not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _data(self, reader: asyncio.StreamReader) -> bytes:
        lines: list[bytes] = []
        size = 0
        while True:
            line = await reader.readline()
            if not line or line in (b".\r\n", b".\n"):
                break
            if line.startswith(b".."):
                line = line[1:]  # dot-unstuffing
            size += len(line)
            if size <= MAX_MESSAGE_BYTES:
                lines.append(line)
        return b"".join(lines)
