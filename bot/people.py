"""Who someone is in Slack, from ``users.info``: name, email, Slack admin, guest, from another organisation, tz, locale.

Tamio asks once, when it first meets a person (``bot.workspace``), with ``include_locale`` so the
installer's locale can become the account's. Guests (``is_restricted`` / ``is_ultra_restricted``)
and people from another organisation (``is_stranger``, or another team outside this org) get no
access (``tamio.accounts.privacy``). The email is there only with the ``users:read.email`` scope.

    person = await slack_person(client, "U123", team_id="T1", enterprise_id=None)
    person.is_guest, person.tz, person.locale
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("tamio.bot")


@dataclass(frozen=True)
class SlackPerson:
    user_id: str
    name: str = ""
    email: str | None = None
    is_slack_admin: bool = False
    is_guest: bool = False
    is_external: bool = False
    tz: str | None = None
    locale: str | None = None  # Slack's form, e.g. "en-GB"


def from_payload_is_external(body: dict[str, Any], *, team_id: str, enterprise_id: str | None) -> bool:
    """Whether the request's user comes from another organisation (a Slack Connect channel), by the payload alone."""
    user = body.get("user")
    home = user.get("team_id") if isinstance(user, dict) else None
    if not home or home == team_id:
        return False
    return enterprise_id is None  # in an Enterprise Grid org, other workspaces of the org are not outsiders


async def slack_person(client: AsyncWebClient, user_id: str, *, team_id: str, enterprise_id: str | None) -> SlackPerson:
    try:
        response = await client.users_info(user=user_id, include_locale=True)
    except SlackApiError as exc:
        log.warning("users.info for %s failed (%s); treating them as a member with no name", user_id, exc.response.get("error"))
        return SlackPerson(user_id)
    user = response.get("user") or {}
    profile = user.get("profile") or {}
    return SlackPerson(
        user_id=user_id,
        name=str(profile.get("display_name") or user.get("real_name") or user.get("name") or ""),
        email=profile.get("email") or None,
        is_slack_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        is_external=bool(user.get("is_stranger")),
        tz=user.get("tz") or None,
        locale=user.get("locale") or None,
    )
