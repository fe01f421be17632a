"""``/tamio help``: every subcommand with what it does and a working example."""

from __future__ import annotations

from bot.blocks.common import context, header, section
from bot.boundary import Reply
from bot.commands.parse import USAGES


def help_blocks() -> list[dict[str, object]]:
    lines = [f"*`/tamio {u.usage}`*\n{u.what[:1].upper() + u.what[1:]}. Example: `{u.example}`" for u in USAGES.values()]
    blocks: list[dict[str, object]] = [header("Tamio: your cash, in Slack")]
    chunk: list[str] = []
    for line in lines:  # a few sections, each well under 3,000 characters
        if sum(len(x) + 2 for x in chunk) + len(line) > 2800:
            blocks.append(section("\n\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n\n".join(chunk)))
    blocks.append(context("Amounts like `1200` or `1,200.50`; dates like `2026-12-01`; names in \"quotes\"."))
    return blocks


def help_reply() -> Reply:
    text = "Tamio commands: " + ", ".join(f"/tamio {name}" for name in USAGES)
    return Reply(text, help_blocks())
