"""``tamio actions list|show|approve|skip|draft|retry|resume|agreed|rules``: prepared actions from the command line.

Decisions need a member (``--as`` a Slack user id, member id or display name) because who
decided is part of the record; the same policy applies as in Slack (approvers decide, payroll
needs an admin, dual control above the threshold). An approval that completes is carried out
at once (``--no-execute`` leaves it to the resume job). Every decision goes through the same core
flows as Slack and the API, whose outbox rows update the card in the channel.

    tamio actions list --status pending
    tamio actions approve act_123 --option 2 --as U024BE7LH
    tamio actions rules set payment_batch --auto on --threshold 5000 --as ada
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.audit.service import to_jsonable
from tamio.cli.context import CliContext
from tamio.errors import NotFound, ValidationError
from tamio.execution import automation, lifecycle, queries, readiness, views
from tamio.execution.delays import agree_delay
from tamio.execution.drafts import edit_draft
from tamio.execution.lifecycle import Decision
from tamio.execution.service import ExecutionOutcome, execute_action, resume_pending_executions
from tamio.money import format_money, to_decimal_string
from tamio.preparation.models import ActionStatus, PreparedAction


def register(sub: Any) -> None:
    parser = sub.add_parser("actions", help="prepared actions: list, show, approve, skip, retry")
    act = parser.add_subparsers(dest="actions_command", metavar="ACTION")
    act.required = True

    listing = act.add_parser("list", help="list actions (the pending ones unless --status says otherwise)")
    listing.add_argument("--status", default="pending", help="pending, approved, executed, failed, ... or all (default: pending)")
    listing.add_argument("--limit", type=_limit, default=50, help="at most this many (1 to 1000, default 50)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    show = act.add_parser("show", help="one action with its options, approvals and history")
    show.add_argument("action_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    approve = act.add_parser("approve", help="approve an option of an action")
    approve.add_argument("action_id")
    approve.add_argument("--option", default="1", help="the option's rank (1, 2, 3) or id (default: 1)")
    approve.add_argument("--subject", default=None, help="send this subject instead of the drafted one")
    approve.add_argument("--body", default=None, help="send this message instead of the drafted one")
    approve.add_argument("--no-execute", action="store_true", help="leave carrying it out to the resume job")
    _who(approve)
    approve.set_defaults(handler=_approve)

    skip = act.add_parser("skip", help="decide not to do an action")
    skip.add_argument("action_id")
    skip.add_argument("--reason", default=None)
    _who(skip)
    skip.set_defaults(handler=_skip)

    draft = act.add_parser("draft", help="edit the message an option will send when approved")
    draft.add_argument("action_id")
    draft.add_argument("--option", default=None, help="the option's rank or id (default: the first that sends a message)")
    draft.add_argument("--subject", required=True)
    draft.add_argument("--body", required=True)
    _who(draft)
    draft.set_defaults(handler=_draft)

    retry = act.add_parser("retry", help="try a failed action again")
    retry.add_argument("action_id")
    _who(retry)
    retry.set_defaults(handler=_retry)

    resume = act.add_parser("resume", help="carry out approved actions and due retries now")
    resume.set_defaults(handler=_resume)

    agreed = act.add_parser("agreed", help="the vendor agreed to the delay this action asked for: move the payments now")
    agreed.add_argument("action_id")
    _who(agreed)
    agreed.set_defaults(handler=_agreed)

    rules = act.add_parser("rules", help="automation rules: list them, or set one (admins)")
    rules.add_argument("rule_action", nargs="?", choices=["list", "set"], default="list")
    rules.add_argument("rule", nargs="?", help="the rule (or action type) to set, e.g. payment_batch")
    rules.add_argument("--auto", choices=["on", "off"], default=None, help="run matching actions without waiting")
    rules.add_argument("--threshold", default=None, help="only below this amount ('' for none)")
    rules.add_argument("--currency", default=None, help="the threshold's currency")
    rules.add_argument("--exclude-tags", default=None, help="comma-separated")
    rules.add_argument("--include-tags", default=None, help="comma-separated")
    rules.add_argument("--as", dest="member", default=None, help="your Slack user id, member id or name")
    rules.set_defaults(handler=_rules)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; use 1 to 1000") from exc
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use 1 to 1000")
    return value


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="member", required=True, help="who decides: a Slack user id, member id or display name")


async def _member(session: AsyncSession, account: Account, who: str | None) -> Member:
    if not who:
        raise ValidationError("Say who you are with `--as` (your Slack user id, member id or name).")
    name = who.lstrip("@").strip()
    stmt = select(Member).where(
        Member.user_id == account.id,
        or_(Member.id == name, Member.slack_user_id == name, func.lower(Member.display_name) == name.lower()),
    )
    found = (await session.execute(stmt.limit(2))).scalars().all()
    if len(found) != 1:
        raise NotFound(f"There is {'no' if not found else 'more than one'} member `{who}` in this account.", hint="See them with `tamio member list`; use a member id, Slack user id or name.")
    return found[0]


def _amount(action: PreparedAction) -> str:
    return format_money(action.amount, action.currency or "USD") if action.amount is not None else "-"


async def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    statuses = None if args.status == "all" else [_status(s) for s in args.status.split(",")]
    await ctx.current_figures()
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        actions = await queries.list_actions(session, account_id=account.id, statuses=statuses, limit=args.limit)
        failed = 0
        if statuses is not None and ActionStatus.FAILED not in statuses and not args.json:
            failed = int((await session.execute(
                select(func.count()).where(PreparedAction.user_id == account.id, PreparedAction.status == ActionStatus.FAILED)
            )).scalar_one())
    if args.json:
        print(json.dumps([to_jsonable(_summary(a)) for a in actions]))
    elif not actions:
        print(f"No {args.status} actions.")
    for a in [] if args.json else actions:
        # The severity is the queue's first order (emergency, this week, upcoming): shown, so the order reads.
        print(f"{a.id}  {a.status.value:<10} {a.severity.value:<10} {a.action_type.value:<24} {_amount(a):>14}  {a.title}")
    if failed:  # a failure must not go unseen: it waits for someone to fix the cause and retry it
        print(f"{failed} failed {'action needs' if failed == 1 else 'actions need'} attention: `tamio actions list --status failed`.")
    return 0


def _status(text: str) -> ActionStatus:
    try:
        return ActionStatus(text.strip().lower())
    except ValueError as exc:
        raise ValidationError(f"`{text}` is not a status; use {', '.join(s.value for s in ActionStatus)} or all.") from exc


def _decimal(amount: Decimal | None, currency: str | None) -> str | None:
    """An amount as a decimal string at its currency's precision, as `tamio forecast --json` and the API write them."""
    if amount is None:
        return None
    return to_decimal_string(amount, currency) if currency else format(amount, "f")


def _summary(a: PreparedAction) -> dict[str, Any]:
    return {
        "id": a.id, "status": a.status, "severity": a.severity, "action_type": a.action_type, "title": a.title, "amount": _decimal(a.amount, a.currency), "currency": a.currency,
        "tags": a.tags, "deadline": a.deadline, "approvals_required": a.approvals_required, "chosen_option_id": a.chosen_option_id,
        "decided_at": a.decided_at, "auto_executed": a.auto_executed, "attempts": a.attempts, "last_error": a.last_error,
        "executed_at": a.executed_at,
    }


async def _show(args: argparse.Namespace, ctx: CliContext) -> int:
    await ctx.current_figures()
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        view = await views.action_view(session, account_id=account.id, action_id=args.action_id, with_records=True)
        await readiness.with_email_needs(session, [view], account=account, settings=ctx.settings, now=ctx.now)
    a = view.action
    if args.json:
        print(json.dumps(to_jsonable({
            **_summary(a), "summary": a.summary, "decided_by": view.decider, "edited_subject": a.edited_subject, "edited_body": a.edited_body,
            "history_line": view.history_line, "forecast_basis": view.basis,
            "options": [{"id": o.id, "rank": o.rank, "kind": o.kind, "title": o.title, "amount": _decimal(o.amount, o.currency or a.currency),
                         "currency": o.currency,
                         "risk_level": o.risk_level, "draft_subject": o.draft_subject, "draft_body": o.draft_body, "params": o.params} for o in view.options],
            "approvals": [{"member": p.handle, "option_id": p.option_id, "at": p.at} for p in view.approvals],
            "links": [{"id": k.id, "source_action_id": k.source_action_id, "target_action_id": k.target_action_id,
                       "link_type": k.link_type.value, "group_id": k.group_id, "reason": k.reason} for k in view.links],
            "history": [{"event": r.event, "from": r.from_status, "to": r.to_status, "actor": r.actor_kind, "attempt": r.attempt,
                         "at": r.created_at, "error": r.error} for r in view.records],
        })))
        return 0
    print(f"{a.title}  [{a.status.value}]  {a.action_type.value}  {_amount(a)}")
    if a.summary:
        print(f"  {a.summary}")
    for o in view.options:
        mark = "*" if o.id == a.chosen_option_id else " "
        money = f"  {format_money(o.amount, o.currency or account.base_currency)}" if o.amount is not None else ""
        lowest = (f", lowest after {format_money(o.forecast_lowest_balance, account.base_currency)}"
                  if o.forecast_lowest_balance is not None else "")  # the card's figure, in the forecast's currency
        print(f" {mark}{o.rank}. {o.title}{money}  (risk {o.risk_level}, {o.kind}{lowest})")
        if o.id in view.needs:  # said before approval: what its email needs (approving it would be refused)
            print(f"      needs: {view.needs[o.id].message}")
    if view.links:  # as the card says them
        print("  " + " · ".join(f"{words}: " + "; ".join(titles) for words, titles in views.link_phrases(view.links)))
    if view.history_line:
        print(f"  {view.history_line}")
    if view.decider:
        print(f"  Decided by {view.decider}" + (f" {lifecycle.clock_text(account, a.decided_at, ctx.now)}" if a.decided_at else ""))
    elif a.approvals_required > 1 or view.approvals:
        print(f"  {len(view.approvals)} of {a.approvals_required} approvals: {', '.join(p.handle for p in view.approvals) or 'none yet'}")
    if a.last_error:
        print(f"  Last error (attempt {a.attempts}): {a.last_error}")
    for r in view.records:
        print(f"  {r.created_at:%Y-%m-%d %H:%M} {r.event:<15} {r.from_status or '':>9} -> {r.to_status:<9} {r.actor_kind}" + (f"  {r.error}" if r.error else ""))
    return 0


def _option_id(view: views.ActionView, choice: str) -> str:
    for option in view.options:
        if choice in (option.id, str(option.rank)):
            return option.id
    raise NotFound(f"This action has no option `{choice}`; choose {', '.join(str(o.rank) for o in view.options)}.")


async def _approve(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        member = await _member(session, account, args.member)
        view = await views.action_view(session, account_id=account.id, action_id=args.action_id)
        decision = await lifecycle.approve(
            session, account=account, member=member, action_id=view.action.id, option_id=_option_id(view, args.option),
            edited_subject=args.subject, edited_body=args.body, now=ctx.now, settings=ctx.settings,
        )
    if decision.outcome == "figures_changed":  # refused: the fresh action, as the card now shows it
        print(f"tamio: {decision.message}", file=sys.stderr)
        if decision.replaced_by is None:
            print("With the figures as they are now there is nothing left to propose.")
            return 1
        await _show(argparse.Namespace(action_id=decision.replaced_by, json=False), ctx)
        return 1
    return await _after(decision, account, ctx, execute=not args.no_execute)


async def _skip(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        member = await _member(session, account, args.member)
        decision = await lifecycle.skip(session, account=account, member=member, action_id=args.action_id, now=ctx.now, reason=args.reason)
    print(decision.message)
    return 0


async def _draft(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        member = await _member(session, account, args.member)
        view = await views.action_view(session, account_id=account.id, action_id=args.action_id)
        option_id = _option_id(view, args.option) if args.option else None
        decision = await edit_draft(session, account=account, member=member, action_id=view.action.id, option_id=option_id,
                                    subject=args.subject, body=args.body, now=ctx.now)
    print(decision.message)
    return 0


async def _retry(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        member = await _member(session, account, args.member)
        decision = await lifecycle.retry(session, account=account, member=member, action_id=args.action_id, now=ctx.now)
    return await _after(decision, account, ctx, execute=True)


async def _after(decision: Decision, account: Account, ctx: CliContext, *, execute: bool) -> int:
    print(decision.message)
    if not execute or decision.outcome not in ("approved", "retrying"):
        return 0
    outcome = await execute_action(ctx.sessions, account_id=account.id, action_id=decision.action_id, now=ctx.now, settings=ctx.settings)
    _print_outcome(outcome)
    return 1 if outcome.status == ActionStatus.FAILED.value else 0


def _print_outcome(outcome: ExecutionOutcome) -> None:
    print(outcome.message)
    for mail in outcome.result.get("emails", []):
        print(f"  emailed {mail.get('to')} ({mail.get('message_id')})")


async def _resume(args: argparse.Namespace, ctx: CliContext) -> int:
    outcomes = await resume_pending_executions(ctx.sessions, ctx.now, settings=ctx.settings, account_id=ctx.account_id)
    for outcome in outcomes:
        print(f"{outcome.action_id}  {outcome.status:<9} {outcome.message}")
    if not outcomes:
        print("Nothing is waiting to be carried out.")
    return 1 if any(o.status == ActionStatus.FAILED.value for o in outcomes) else 0


async def _agreed(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        member = await _member(session, account, args.member)
        moved = await agree_delay(session, account=account, member=member, action_id=args.action_id, today=ctx.today(account), now=ctx.now)
    for move in moved:
        print(f"Moved {format_money(Decimal(str(move['amount'])), str(move['currency']))} from {move['from']} to {move['to']}.")
    return 0


async def _rules(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        if args.rule_action == "set":
            if not args.rule:
                raise ValidationError("Say which rule to set, e.g. `tamio actions rules set payment_batch --auto on --as ada`.")
            changes: dict[str, Any] = {}
            if args.auto is not None:
                changes["auto_execute"] = args.auto == "on"
            for option, name in (("threshold", "threshold_amount"), ("currency", "threshold_currency"),
                                 ("exclude_tags", "excluded_tags"), ("include_tags", "included_tags")):
                if getattr(args, option) is not None:
                    changes[name] = getattr(args, option)
            member = await _member(session, account, args.member)
            await automation.update_rule(session, account=account, member=member, action_type=args.rule, now=ctx.now, **changes)
        rules = await automation.list_rules(session, account_id=account.id)
    for r in rules:
        print(f"{r.action_type:<20} {automation.describe_rule(r, base_currency=account.base_currency)}")
    return 0
