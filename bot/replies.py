"""Answers to a person that arrive: through the response URL, else ephemerally, else in their DM with Tamio.

Slack gives a request a ``response_url`` that works wherever the person is (a channel Tamio is
not in, a private channel, a DM between two people) for 30 minutes and 5 uses. Past that, or when
there is none (a modal's submission without one), an ephemeral needs Tamio in the channel, and the
last way left is the app's own DM with the person. Every answer is checked: a webhook's status, a
Web API error; the next way is tried, and a reply no way could deliver is logged as an error with
what each way said, never dropped silently.

    delivered = await reply(caller, client, "Added Acme Corp: $1,200.00 monthly.", blocks=...)
    delivered.via  # "response_url" | "ephemeral" | "dm" | "" (nothing reached them; logged)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger("tamio.bot")


class Recipient(Protocol):
    """Who to answer, and the ways a request left to do it (``bot.runtime.Caller`` is one)."""

    @property
    def user_id(self) -> str | None: ...

    @property
    def channel_id(self) -> str | None: ...

    @property
    def response_url(self) -> str | None: ...


@dataclass
class Delivered:
    via: str = ""
    refused: list[str] = field(default_factory=list)  # what each way that failed said

    def __bool__(self) -> bool:
        return bool(self.via)


async def send_to_response_url(url: str, *, text: str, blocks: list[dict[str, Any]] | None = None,
                               replace_original: bool = False, in_channel: bool = False) -> str | None:
    """Post to a response URL; ``None`` when Slack took it, else what it said (status and body)."""
    try:
        answer = await AsyncWebhookClient(url).send(
            text=text, blocks=blocks, replace_original=replace_original,
            response_type="in_channel" if in_channel else "ephemeral",
        )
    except Exception as exc:  # the network: report it like a refusal, the caller tries the next way
        return f"response_url unreachable ({type(exc).__name__})"
    if answer.status_code == 200:
        return None
    return f"response_url {answer.status_code} {answer.body[:200]}"


async def reply(recipient: Recipient, client: AsyncWebClient, text: str, *,
                blocks: list[dict[str, Any]] | None = None, in_channel: bool = False) -> Delivered:
    """Answer the person who made a request by the first way that works (see the module docstring)."""
    delivered = Delivered()
    if recipient.response_url:
        problem = await send_to_response_url(recipient.response_url, text=text, blocks=blocks, in_channel=in_channel)
        if problem is None:
            delivered.via = "response_url"
            return delivered
        delivered.refused.append(problem)
    if recipient.channel_id and recipient.user_id and not in_channel:
        try:
            await client.chat_postEphemeral(channel=recipient.channel_id, user=recipient.user_id, text=text, blocks=blocks)
            delivered.via = "ephemeral"
            return delivered
        except SlackApiError as exc:
            delivered.refused.append(f"chat.postEphemeral {exc.response.get('error')}")
    if recipient.user_id:
        try:
            await client.chat_postMessage(channel=recipient.user_id, text=text, blocks=blocks)
            delivered.via = "dm"
            return delivered
        except SlackApiError as exc:
            delivered.refused.append(f"chat.postMessage to the DM {exc.response.get('error')}")
    log.error("could not answer %s: %s", recipient.user_id or "?", "; ".join(delivered.refused) or "no way to reach them")
    return delivered
