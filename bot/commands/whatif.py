"""``/tamio whatif CHANGE [; CHANGE]``: the forecast as if, beside today's, visible to the caller.

The command acks at once; the scenario is evaluated (nothing is written), drawn with both lines and
uploaded to the caller's DM after the ack, as ``/tamio forecast`` does. Save (approvers and admins,
audited) asks for a name and keeps it; Share posts it in the channel.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.add_form import form_values
from bot.blocks.common import cut, day_label, escape, user
from bot.blocks.whatif import (
    REAL_ACTION,
    SAVE_ACTION,
    SAVE_CALLBACK,
    SHARE_ACTION,
    fallback,
    save_form,
    what_if_blocks,
)
from bot.boundary import FieldErrors, handler, tell
from bot.channels import make_postable
from bot.commands import parse
from bot.commands.data import add_obligation
from bot.commands.forecast import chart_in_dm
from bot.forecasting import ChartRefused, draw, upload_chart
from bot.replies import reply
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.errors import Conflict, ValidationError
from tamio.obligations.adding import AddObligation as Adding
from tamio.scenarios.changes import AddObligation, Scenario
from tamio.scenarios.engine import ScenarioResult
from tamio.scenarios.inline import parse_changes
from tamio.scenarios.service import save_scenario, what_if
from tamio.scenarios.views import what_changes


async def evaluate(scope: Scope, texts: tuple[str, ...]) -> ScenarioResult:
    changes = parse_changes(list(texts), today=scope.today, base_currency=scope.account.base_currency)
    return await what_if(scope.db, account=scope.account, scenario=Scenario(changes=changes), settings=scope.settings,
                         today=scope.today, now=scope.now)


async def send_what_if(scope: Scope, texts: tuple[str, ...]) -> None:
    result = await evaluate(scope, texts)
    await scope.commit()
    title = f"What if · {len(result.forecast.weeks)} weeks from {day_label(result.forecast.as_of)}"
    png = await draw(result.forecast, title="", baseline=result.baseline)  # titled once: by the message's header
    file_id, chart = await chart_in_dm(scope, png, title=title, weeks=len(result.forecast.weeks))
    note = "The chart is in your DM with Tamio." if file_id and chart is None else None
    adds = sum(1 for c in parse_changes(list(texts), today=scope.today, base_currency=scope.account.base_currency)
               if isinstance(c, AddObligation))
    if await reply(scope.caller, scope.client, fallback(result), blocks=what_if_blocks(result, texts, image=chart, note=note, adds=adds)):
        return
    await reply(scope.caller, scope.client, fallback(result), blocks=what_if_blocks(result, texts, note=note, adds=adds))


async def show_what_if(scope: Scope, command: parse.ShowWhatIf, client: AsyncWebClient) -> None:
    texts = command.texts

    async def work(later: Scope) -> None:
        await send_what_if(later, texts)

    scope.later(work, name="whatif")


def read_value(body: dict[str, Any]) -> tuple[str, ...]:
    action = (body.get("actions") or [{}])[0]
    try:
        texts = json.loads(str(action.get("value") or ""))
    except ValueError as exc:
        raise ValidationError("That button is out of date; run `/tamio whatif` again.") from exc
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValidationError("That button is out of date; run `/tamio whatif` again.")
    return tuple(texts)


@handler
async def save_clicked(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> None:
    """Save asks for a name first (suggested from the changes)."""
    scope.read_only()  # a trigger id lives 3 s: never wait for a writer
    await scope.require(Operation.MANAGE_DATA, "save scenarios")
    texts = read_value(body)
    await scope.commit()
    await client.views_open(trigger_id=scope.caller.trigger_id, view=save_form(texts, channel_id=scope.caller.channel_id))


@handler
async def save_submitted(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    await scope.require(Operation.MANAGE_DATA, "save scenarios")
    view = body.get("view") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    texts = meta.get("texts") if isinstance(meta, dict) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValidationError("That form is out of date; run `/tamio whatif` again.")
    result = await evaluate(scope, tuple(texts))
    scenario = Scenario(changes=parse_changes(list(texts), today=scope.today, base_currency=scope.account.base_currency))
    actor = scope.member.id if scope.member else "slack"
    try:
        saved = await save_scenario(scope.db, account=scope.account, name=str(form_values(view).get("name") or ""),
                                    scenario=scenario, actor=actor, now=scope.now, replace=False)
    except Conflict as exc:
        return FieldErrors({"name": cut(f"{exc.message} Choose another name.", 150)})
    except ValidationError as exc:
        return FieldErrors({"name": cut(exc.message, 150)})
    text = f":white_check_mark: Saved as scenario *{escape(saved.name)}*: {what_changes(result)}"
    caller = replace(scope.caller, channel_id=str(meta.get("channel") or "") or scope.caller.channel_id)
    scope.after_commit(lambda: tell(caller, client, text))
    return None


async def share(scope: Scope, texts: tuple[str, ...]) -> None:
    result = await evaluate(scope, texts)
    await scope.commit()
    channel = scope.caller.channel_id
    if not channel:
        return
    access = await make_postable(scope.client, channel, channel_name=scope.caller.channel_name)
    if not access.postable:
        await reply(scope.caller, scope.client, access.explain("share the what-if"))
        return
    blocks = what_if_blocks(result, texts, note=f"Shared by {user(scope.caller.user_id)}", buttons=False)
    try:
        posted = await scope.client.chat_postMessage(channel=channel, text=fallback(result), blocks=blocks)
    except SlackApiError as exc:
        await reply(scope.caller, scope.client, f":warning: Slack wouldn't take the what-if in <#{channel}> "
                                                f"({exc.response.get('error')}). Nothing was shared.")
        return
    title = "What if"
    try:
        png = await draw(result.forecast, title="", baseline=result.baseline)
        await upload_chart(scope.client, channel=channel, png=png, title=title, thread_ts=str(posted["ts"]))
    except ChartRefused as exc:
        await reply(scope.caller, scope.client, f":warning: The what-if is in <#{channel}>, but Slack refused its chart ({exc.error}).")


@handler
async def share_clicked(scope: Scope, body: dict[str, Any]) -> None:
    texts = read_value(body)

    async def work(later: Scope) -> None:
        await share(later, texts)

    scope.later(work, name="share-whatif")


@handler
async def make_real_clicked(scope: Scope, body: dict[str, Any]) -> None:
    """The added obligations of the what-if, added for real through ``/tamio add``'s function (its role
    check and audit), in one transaction: all of them or none."""
    texts = read_value(body)
    changes = parse_changes(list(texts), today=scope.today, base_currency=scope.account.base_currency)
    adds = [c for c in changes if isinstance(c, AddObligation)]
    if not adds:
        raise ValidationError("This what-if adds no obligation, so there is nothing to add; the other changes are for you to make.")
    done = [await add_obligation(scope, Adding.read({"kind": c.obligation_kind, "name": c.name, "amount": c.amount, "currency": c.currency,
                                                      "recurrence": c.spec()}, today=scope.today))
            for c in adds]
    others = len(changes) - len(adds)
    rest = "" if not others else ("\nThe what-if's other change stays hypothetical." if others == 1
                                  else f"\nThe what-if's other {others} changes stay hypothetical.")
    await scope.commit()
    await reply(scope.caller, scope.client, "\n".join(done) + rest)


def register(app: AsyncApp) -> None:
    app.action(REAL_ACTION)(make_real_clicked)
    app.action(SAVE_ACTION)(save_clicked)
    app.view(SAVE_CALLBACK)(save_submitted)
    app.action(SHARE_ACTION)(share_clicked)
