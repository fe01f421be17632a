"""``/tamio alerts``, ``actions`` and ``run``: what Tamio found, what waits for a decision, and a check now.

``run`` answers at once and runs detection and preparation after the ack, in its own transaction;
new cards reach the digest channel through the outbox like the scheduled runs' do.
"""

from __future__ import annotations

from collections import defaultdict

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.alerts import alert_sections
from bot.blocks.card import card_blocks
from bot.blocks.common import MESSAGE_MAX_BLOCKS, Block, context, divider, header, section
from bot.boundary import Reply, tell
from bot.commands import parse
from bot.queries import count_open_alerts, count_pending, load_cards, open_alerts, pending_action_ids
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.execution.readiness import with_email_needs
from tamio.pipeline import run_detection_preparation_cycle

# Said when the figures could not be brought up to date before the answer (``Scope.current_figures``).
BEHIND = ":hourglass_flowing_sand: Tamio is still updating these figures after a recent change; ask again in a moment."


async def show_alerts(scope: Scope, command: parse.ShowAlerts, client: AsyncWebClient) -> Reply:
    current = await scope.current_figures()
    counts = await count_open_alerts(scope.db, account_id=scope.account.id)
    total = sum(counts.values())
    behind = [] if current else [context(BEHIND)]
    if not total:
        text = ":white_check_mark: No open alerts. Tamio checks the forecast every morning."
        return Reply(text, [section(text), *behind])
    blocks: list[Block] = [header(f"Open alerts ({total:,})"), *behind]
    blocks += alert_sections(await open_alerts(scope.db, account_id=scope.account.id), today=scope.today, counts=counts)
    return Reply(f"{total:,} open alerts", blocks)


async def show_actions(scope: Scope, command: parse.ShowActions, client: AsyncWebClient) -> Reply:
    current = await scope.current_figures()
    total = await count_pending(scope.db, account_id=scope.account.id)
    behind = [] if current else [context(BEHIND)]
    if not total:
        text = ":white_check_mark: Nothing waits for a decision."
        return Reply(text, [section(text), *behind])
    cards = await with_email_needs(
        scope.db, await load_cards(scope.db, account_id=scope.account.id,
                                   action_ids=await pending_action_ids(scope.db, account_id=scope.account.id, limit=10)),
        account=scope.account, settings=scope.settings, now=scope.now)
    blocks: list[Block] = [header(f"Waiting for a decision ({total})"), *behind]
    shown = 0
    for card in cards:
        rendered = card_blocks(card, today=scope.today, base_currency=scope.account.base_currency)
        if len(blocks) + len(rendered) + 2 > MESSAGE_MAX_BLOCKS:
            break
        blocks += [divider(), *rendered]
        shown += 1
    if shown < total:
        blocks.append(context(f"{total - shown} more in App Home."))
    return Reply(f"{total} actions wait for a decision", blocks)


async def run_now(scope: Scope, command: parse.RunPipeline, client: AsyncWebClient) -> Reply:
    await scope.require(Operation.RUN_CHECKS, "run the checks")

    async def work(later: Scope) -> None:
        result = await run_detection_preparation_cycle(later.db, later.account.id, today=later.today, now=later.now,
                                                       settings=later.settings, trigger="slack")
        channel = later.account.digest_channel_id
        await later.commit()
        await tell(later.caller, later.client, run_report(result, channel))

    scope.later(work, name="run-pipeline")
    text = ":mag: Checking the forecast for problems…"
    return Reply(text, [section(text)])


def run_report(result: object, channel: str | None) -> str:
    alerts = getattr(result, "alerts_detected", 0)
    prepared = getattr(result, "actions_prepared", 0)
    by_severity: dict[str, int] = defaultdict(int, getattr(result, "alerts_by_severity", {}) or {})
    parts = [f"{by_severity[k]} {label}" for k, label in (("emergency", "emergency"), ("this_week", "this week"), ("upcoming", "upcoming")) if by_severity[k]]
    text = f":white_check_mark: Checked. {alerts} open alert{'s' if alerts != 1 else ''}"
    text += f" ({', '.join(parts)})" if parts else ""
    text += f"; {prepared} new action{'s' if prepared != 1 else ''} prepared."
    if prepared:
        text += f" Their cards go to <#{channel}>." if channel else " Choose a channel for their cards with `/tamio digest here`."
    errors = getattr(result, "errors", []) or []
    if errors:
        text += f"\n:warning: {len(errors)} check{'s' if len(errors) != 1 else ''} failed and will run again next time."
    return text
