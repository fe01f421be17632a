"""Small Block Kit builders that stay within Slack's limits by construction, and the formats people read.

Slack answers ``invalid_blocks`` past its limits: header 150 characters, section text 3,000, a
field 2,000 (10 per section), button text 75 and value 2,000, option text 75, context 10 elements,
50 blocks in a message and 100 in a view. The numbers come from slack_sdk's Block Kit models, the
one place they are written (the Slack sandbox checks against the same models); only what those
models leave out is spelled here. These builders cut text to fit (with an ellipsis) instead of
letting a long client name break a card.

Dates in messages use Slack's date token, so each reader sees their own locale and time zone:

    slack_date(datetime(2026, 12, 11, 9, tzinfo=UTC), "{date_short_pretty}")
    -> '<!date^1796979600^{date_short_pretty}|Fri 11 Dec>'

Amounts and the dates written out (``money``, ``whole``, ``day_label``) follow the account's locale
(``Account.locale``, babel's names): each entry point says whose words it writes with
``written_in(account.locale)`` (the request's middleware, the outbox per message, App Home), and
everything built in that context uses it: ``$1,200.50`` for en_US, ``1.200,50 €`` for de_DE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from slack_sdk.models.blocks import ButtonElement, ContextBlock, HeaderBlock, Option, SectionBlock
from slack_sdk.models.views import View

from tamio.money import format_money

HEADER_MAX = HeaderBlock.text_max_length
SECTION_MAX = SectionBlock.text_max_length
SECTION_FIELDS_MAX = SectionBlock.fields_max_length
BUTTON_TEXT_MAX = ButtonElement.text_max_length
BUTTON_VALUE_MAX = ButtonElement.value_max_length
OPTION_TEXT_MAX = Option.label_max_length
OPTION_VALUE_MAX = Option.value_max_length
CONTEXT_MAX_ELEMENTS = ContextBlock.elements_max_length
VIEW_MAX_BLOCKS = View.blocks_max_length
# Slack's reference has these; slack_sdk's models do not (a message is not a model there).
FIELD_MAX = 2000
MESSAGE_MAX_BLOCKS = 50

Block = dict[str, Any]
LOCALE: ContextVar[str] = ContextVar("tamio_locale", default="en_US")


@contextmanager
def written_in(locale: str) -> Iterator[None]:
    """Amounts and dates built inside are written for ``locale`` (the account's)."""
    token = LOCALE.set(locale)
    try:
        yield
    finally:
        LOCALE.reset(token)


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, shortened at a word's end ("...with a professional…",
    never "...with a professional em…"); a single long word is cut where it must be."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:·-(") + "…"


def escape(text: str) -> str:
    """Escape what Slack's mrkdwn treats as control characters: ``<!channel>``, ``<https://x|y>``
    and ``&`` in a name become text. Everything built from user data goes through it, in blocks and in
    the notification (fallback) text alike."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,20}>|<!date\^[0-9]{1,12}\^[^|<>]{1,80}\|[^<>|]{0,80}>")


def escape_keeping_mentions(text: str) -> str:
    """``escape``, except user mentions (``<@U0123>``) and date tokens Tamio itself writes into its messages."""
    parts = _MENTION.split(text)
    mentions = _MENTION.findall(text)
    out = [escape(parts[0])]
    for mention, part in zip(mentions, parts[1:], strict=True):
        out += [mention, escape(part)]
    return "".join(out)


def plain(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, limit) or " "}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_MAX)}


def section(text: str, *, block_id: str | None = None, accessory: dict[str, Any] | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def fields(*items: str) -> Block:
    return {"type": "section", "fields": [mrkdwn(item, FIELD_MAX) for item in items[:SECTION_FIELDS_MAX]]}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t][:CONTEXT_MAX_ELEMENTS] or [mrkdwn(" ")]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str = "", *, style: str | None = None, confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(text, BUTTON_TEXT_MAX), "action_id": action_id}
    if value:
        element["value"] = value[:BUTTON_VALUE_MAX]
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    return {"title": plain(title, 100), "text": mrkdwn(text, 300), "confirm": plain(yes, 30), "deny": plain(no, 30)}


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def option(text: str, value: str, description: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"text": plain(text, OPTION_TEXT_MAX), "value": value[:OPTION_VALUE_MAX]}
    if description:
        item["description"] = plain(description, OPTION_TEXT_MAX)
    return item


def image(*, alt: str, url: str | None = None, file_id: str | None = None, title: str | None = None) -> Block:
    block: Block = {"type": "image", "alt_text": cut(alt, 2000)}
    if file_id:
        block["slack_file"] = {"id": file_id}
    elif url:
        block["image_url"] = url
    if title:
        block["title"] = plain(title, 2000)
    return block


def code_sections(lines: list[str], *, limit: int = SECTION_MAX) -> list[Block]:
    """Lines in code blocks, split into as few sections as fit in ``limit`` characters each."""
    chunks: list[list[str]] = [[]]
    size = 6  # the fences
    for line in lines:
        line = cut(line, limit - 8)
        if chunks[-1] and size + len(line) + 1 > limit:
            chunks.append([])
            size = 6
        chunks[-1].append(line)
        size += len(line) + 1
    return [section("```" + "\n".join(chunk) + "```") for chunk in chunks if chunk]


# -- formats ----------------------------------------------------------------------------------


def money(amount: Decimal | None, currency: str | None) -> str:
    """An amount in text: ``tamio.money.format_money``'s one rule (always the cents), in the account's locale."""
    if amount is None or not currency:
        return "—"
    return format_money(amount, currency, locale=LOCALE.get())


def whole(amount: Decimal) -> str:
    """An amount in whole units with the locale's separators, for tables: ``-8,400`` (``-8.400`` in de_DE)."""
    return str(format_decimal(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN), format="#,##0", locale=LOCALE.get()))


def day_label(day: date) -> str:
    """``Fri 11 Dec``: how people say a date (``Fr. 11 Dez.`` in de_DE)."""
    return str(format_date(day, "EEE d MMM", locale=LOCALE.get()))


def _timestamp(moment: date | datetime) -> int:
    if isinstance(moment, datetime):
        return int(moment.timestamp())
    return int(datetime.combine(moment, time(12), tzinfo=UTC).timestamp())


def slack_date(moment: date | datetime, fmt: str = "{date_short_pretty}", fallback: str | None = None) -> str:
    if fallback is None:
        fallback = day_label(moment.date() if isinstance(moment, datetime) else moment)
        if isinstance(moment, datetime) and "{time" in fmt:
            fallback += f" {moment:%H:%M} UTC"
    return f"<!date^{_timestamp(moment)}^{fmt}|{fallback}>"


def slack_time(moment: datetime) -> str:
    return slack_date(moment, "{time}", f"{moment.astimezone(UTC):%H:%M} UTC")


def slack_moment(moment: datetime) -> str:
    """A day and a time in each reader's own words and zone: "7 Dec at 3:02 PM" (Slack's date token)."""
    day = moment.astimezone(UTC).date()
    return slack_date(moment, "{date_short_pretty} at {time}", f"{day_label(day)} at {moment.astimezone(UTC):%H:%M} UTC")


def in_days(day: date, today: date) -> str:
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    return f"in {delta} days" if delta > 0 else f"{-delta} days ago"


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "someone"
