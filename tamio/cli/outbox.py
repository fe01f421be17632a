"""``tamio outbox list [--dead | --status S] [--limit N] [--json]`` and ``tamio outbox retry ID``.

What Tamio has queued to send, and what it gave up on: a dead message (Slack refused it, or every
retry failed) stays visible here with its last error until someone sends it again with
``tamio outbox retry ID`` (its attempts start over; the delivery worker checks Slack first, so a
message that did arrive is not posted twice).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.cli.context import CliContext
from tamio.errors import NotFound, ValidationError
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import DEAD, STATUSES, backlog, get_message, list_messages, retry_dead


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; use 1 to 1000") from exc
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use 1 to 1000")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("outbox", help="messages queued for Slack and email; retry dead ones")
    outbox_sub = parser.add_subparsers(dest="outbox_command", metavar="ACTION")
    outbox_sub.required = True
    listing = outbox_sub.add_parser("list", help="queued, sent and dead messages, newest first")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--dead", action="store_true", help="only messages that were given up on")
    which.add_argument("--status", choices=STATUSES, help="only messages with this status")
    listing.add_argument("--limit", type=_limit, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)
    retry = outbox_sub.add_parser("retry", help="send a dead message again")
    retry.add_argument("id", help="the message id, as `tamio outbox list --dead` shows it")
    retry.set_defaults(handler=_retry)


def _as_json(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id, "account_id": row.user_id, "kind": row.kind, "channel": row.channel, "status": row.status,
        "attempts": row.attempts, "idempotency_key": row.idempotency_key, "last_error": row.last_error,
        "created_at": row.created_at.isoformat(), "next_attempt_at": row.next_attempt_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


def _line(row: OutboxMessage) -> str:
    when = (row.delivered_at or row.next_attempt_at).strftime("%Y-%m-%d %H:%M")
    error = f"  last error: {row.last_error}" if row.last_error and row.status != "delivered" else ""
    return (f"{row.id}  {row.status:<9} {row.kind:<16} {row.channel or '-':<12} tries {row.attempts:<2} {when}  "
            f"{row.idempotency_key}{error}")


async def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    status = DEAD if args.dead else args.status
    async with ctx.transaction() as session:
        rows = await list_messages(session, status=status, limit=args.limit, account_id=ctx.account_id)
        counts = await backlog(session)
    if args.json:
        for row in rows:
            print(json.dumps(_as_json(row)))
        return 0
    if not rows:
        print("No dead messages: everything was delivered or is still being tried." if status == DEAD else "The outbox is empty.")
    for row in rows:
        print(_line(row))
    oldest = f", oldest pending since {counts.oldest_pending:%Y-%m-%d %H:%M} UTC" if counts.oldest_pending else ""
    print(f"{counts.pending} pending, {counts.sending} sending, {counts.dead} dead{oldest}.")
    return 0


async def _retry(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        row = await get_message(session, message_id=args.id)
        if row is None:
            raise NotFound(f"There is no outbox message `{args.id}`.", hint="List dead ones with `tamio outbox list --dead`.")
        if row.status != DEAD:
            raise ValidationError(
                f"Message `{args.id}` is {row.status}, not dead; only dead messages can be retried.",
            )
        await retry_dead(session, message_id=row.id, now=ctx.now)
    print(f"Queued {args.id} ({row.kind}) to be sent again; a running `tamio serve` delivers it.")
    return 0
