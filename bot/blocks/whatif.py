"""``/tamio whatif``'s answer: the scenario beside today's forecast, the weekly difference, one sentence
on the lowest point and the runway, and Save / Share buttons (the changes travel in their value)."""

from __future__ import annotations

import json

from bot.blocks.common import (
    Block,
    actions,
    button,
    code_sections,
    confirm_dialog,
    context,
    day_label,
    escape,
    header,
    section,
    whole,
)
from bot.blocks.forecast import headline
from tamio.scenarios.engine import ScenarioResult
from tamio.scenarios.views import what_changes

SAVE_ACTION = "whatif_save"
SHARE_ACTION = "whatif_share"
REAL_ACTION = "whatif_make_real"
SAVE_CALLBACK = "whatif_save_form"
VALUE_MAX = 2000  # Slack's limit on a button's value
NAME_MAX = 200  # a saved scenario's name (tamio.limits)


def changes_value(texts: tuple[str, ...]) -> str | None:
    value = json.dumps(list(texts), ensure_ascii=False)
    return value if len(value) <= VALUE_MAX else None


def difference_lines(result: ScenarioResult) -> list[str]:
    rows = [(day_label(w.start), whole(b.closing_balance), whole(w.closing_balance), whole(d) if d else "0")
            for w, b, d in zip(result.forecast.weeks, result.baseline.weeks, result.differences, strict=True)]
    widths = [max(len(r[i]) for r in rows + [("", "Today", "What if", "Change")]) for i in range(1, 4)]
    lines = [f"{'Week':<6}  {'Today':>{widths[0]}}  {'What if':>{widths[1]}}  {'Change':>{widths[2]}}"]
    lines += [f"{s:<6}  {b:>{widths[0]}}  {n:>{widths[1]}}  {d:>{widths[2]}}" for s, b, n, d in rows]
    return lines


def what_if_blocks(result: ScenarioResult, texts: tuple[str, ...], *, image: Block | None = None, note: str | None = None,
                   buttons: bool = True, adds: int = 0) -> list[Block]:
    """``adds``: how many of the changes add an obligation (what "Make it real" would add)."""
    forecast = result.forecast
    blocks: list[Block] = [
        header(f"What if · {len(forecast.weeks)} weeks from {day_label(forecast.as_of)}"),
        section("\n".join(f"• {escape(change)}" for change in result.changes)[:2900]),
        section(what_changes(result)),
        section(headline(forecast)),
    ]
    if image is not None:
        blocks.append(image)
    blocks.extend(code_sections(difference_lines(result)))
    blocks.append(context(f"Nothing was changed: this is the forecast as if. Amounts in {forecast.base_currency}.", note or ""))
    value = changes_value(texts)
    if buttons and value is not None:
        elements = [button("Save", SAVE_ACTION, value, style="primary"), button("Share in channel", SHARE_ACTION, value)]
        if adds:
            what = "this obligation" if adds == 1 else f"these {adds} obligations"
            elements.append(button("Make it real", REAL_ACTION, value, confirm=confirm_dialog(
                "Make it real?", f"Tamio adds {what} to your books, as `/tamio add` does.", "Add")))
        blocks.append(actions(*elements, block_id="whatif_actions"))
    return blocks


def fallback(result: ScenarioResult) -> str:
    return "What if: " + "; ".join(result.changes) + ". " + what_changes(result)


def save_form(texts: tuple[str, ...], *, channel_id: str | None) -> Block:
    """The small form Save opens: the scenario's name, suggested from its changes. The changes travel in
    the modal's private metadata (they fit a button's value, so they fit its 3,000 characters)."""
    suggested = "; ".join(texts)
    if len(suggested) > NAME_MAX:
        suggested = suggested[: NAME_MAX - 1].rsplit(" ", 1)[0] + "…"
    element = {"type": "plain_text_input", "action_id": "name", "initial_value": suggested, "max_length": NAME_MAX,
               "placeholder": {"type": "plain_text", "text": "Hire in March"}}
    return {
        "type": "modal", "callback_id": SAVE_CALLBACK, "private_metadata": json.dumps({"texts": list(texts), "channel": channel_id}),
        "title": {"type": "plain_text", "text": "Save what-if"}, "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "input", "block_id": "name", "label": {"type": "plain_text", "text": "Name"}, "element": element,
             "hint": {"type": "plain_text", "text": "App Home lists it by this name with its effect on each day's figures."}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(f"• {escape(t)}" for t in texts)[:2900]}]},
        ],
    }
