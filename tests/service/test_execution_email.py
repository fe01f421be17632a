"""Emails over real SMTP on loopback: retried with backoff, never sent twice, failures visible."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.config import Settings
from tamio.execution.lifecycle import approve, retry
from tamio.execution.mail import SmtpEmailSender
from tamio.execution.models import ExecutionRecord
from tamio.execution.queries import edited_options
from tamio.execution.service import MAX_ATTEMPTS, execute_action, resume_pending_executions
from tamio.execution.transitions import Actor, compare_and_set, load_action, record_transition
from tamio.obligations.models import ObligationSchedule, ScheduleStatus
from tamio.preparation.models import ActionStatus
from tests.service.execution_factories import (
    NOW,
    Mailbox,
    Team,
    count_records,
    email_option,
    first_option,
    later,
    make_action,
    option,
    options_of,
    settings_for,
)
from tests.service.test_execution_effects import build


async def _approved_emails(sessions: async_sessionmaker[AsyncSession], count: int, **approve_kwargs: str) -> tuple[Team, list[str]]:
    async with sessions() as session, session.begin():
        team = await Team.open(session)
        ids = []
        for n in range(count):
            action = await make_action(session, team.account, options=[email_option(to=f"ap{n}@client.test")])
            await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=(await first_option(session, action)).id, now=NOW, **approve_kwargs)
            ids.append(action.id)
    return team, ids


async def _action(sessions: async_sessionmaker[AsyncSession], team: Team, action_id: str) -> tuple[ActionStatus, int, str | None, object]:
    async with sessions() as session:
        action = await load_action(session, account_id=team.account.id, action_id=action_id)
        return action.status, action.attempts, action.last_error, action.next_attempt_at


async def test_a_server_that_is_down_then_up_gets_each_email_exactly_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    mailbox = Mailbox()  # not started: connections are refused
    settings = settings_for(mailbox.port)
    team, ids = await _approved_emails(session_factory, 3)
    for action_id in ids:
        outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=NOW, settings=settings)
        assert (outcome.status, outcome.attempts, outcome.next_attempt_at) == ("executing", 1, later(1))
        assert outcome.error and "SMTPConnect" in outcome.error and "Attempt 1 of 5 failed" in outcome.message
    assert await resume_pending_executions(session_factory, later(0), settings=settings) == []  # not due yet

    with mailbox:
        outcomes = await resume_pending_executions(session_factory, later(2), settings=settings)
        assert sorted(o.status for o in outcomes) == ["executed"] * 3
        assert await resume_pending_executions(session_factory, later(60), settings=settings) == []
        for action_id in ids:  # asking again does nothing either
            again = await execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=later(61), settings=settings)
            assert (again.status, again.ran) == ("executed", False)
    assert sorted(m["To"] for m in mailbox.messages) == ["ap0@client.test", "ap1@client.test", "ap2@client.test"]
    assert len(set(mailbox.message_ids)) == len(mailbox.messages) == 3
    async with session_factory() as session:
        for action_id in ids:
            assert await count_records(session, action_id, "attempt_failed") == 1
            assert await count_records(session, action_id, "executed") == 1
            ledger = (await session.execute(select(ExecutionRecord).where(ExecutionRecord.action_id == action_id, ExecutionRecord.event == "email"))).scalar_one()
            assert ledger.result["state"] == "sent" and ledger.result["message_id"] in mailbox.message_ids
            assert ledger.result["message_id"] == f"<{ledger.id}@acme.test>"  # derived from the execution record


async def test_after_five_failures_the_action_is_failed_and_can_be_retried(session_factory: async_sessionmaker[AsyncSession]) -> None:
    mailbox = Mailbox()
    settings = settings_for(mailbox.port)
    team, [action_id] = await _approved_emails(session_factory, 1)
    now, waits = NOW, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [outcome] = await resume_pending_executions(session_factory, now, settings=settings)
        assert outcome.attempts == attempt
        if outcome.next_attempt_at is not None:
            waits.append(outcome.next_attempt_at - now)
            now = outcome.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    status, attempts, error, next_at = await _action(session_factory, team, action_id)
    assert (status, attempts, next_at) == (ActionStatus.FAILED, MAX_ATTEMPTS, None) and error and "SMTPConnect" in error
    assert outcome.message.startswith("Tamio could not carry this out (it failed 5 times)")
    assert await resume_pending_executions(session_factory, now + timedelta(days=1), settings=settings) == []
    async with session_factory() as session:
        assert await count_records(session, action_id, "attempt_failed") == 4 and await count_records(session, action_id, "failed") == 1

    async with session_factory() as session, session.begin():
        decision = await retry(session, account=team.account, member=team.li, action_id=action_id, now=now)
    assert decision.outcome == "retrying"
    with mailbox:
        [outcome] = await resume_pending_executions(session_factory, now, settings=settings)
    assert outcome.status == "executed" and len(mailbox.messages) == 1


async def test_a_refusal_from_the_server_fails_at_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    team, [action_id] = await _approved_emails(session_factory, 1)
    with Mailbox() as mailbox:
        mailbox.answer = "550 5.1.1 No such mailbox"
        outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=NOW, settings=settings_for(mailbox.port))
    assert (outcome.status, outcome.attempts) == ("failed", 1) and outcome.error and "No such mailbox" in outcome.error


async def test_no_address_fails_at_once_and_says_how_to_retry_this_action(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        bakery = await team.books.client("Jo's Bakery", "600", team.books.every("once", date(2026, 12, 1)))
        action = await make_action(session, team.account, options=[email_option(to=None, counterparty_type="client", counterparty_id=bakery.id)])
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=(await first_option(session, action)).id, now=NOW)
    with Mailbox() as mailbox:
        outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action.id, now=NOW, settings=settings_for(mailbox.port))
    assert (outcome.status, outcome.attempts, mailbox.messages) == ("failed", 1, [])
    assert outcome.error == (
        "There is no email address for Jo's Bakery, so the message was not sent. Add a contact email to them (`/tamio contact \"Jo's Bakery\" EMAIL` "
        f"in Slack, `tamio contact \"Jo's Bakery\" EMAIL`, `PATCH /api/v1/data/clients/{bakery.id}` "
        f"with `contact_email`, or from Xero), then retry the action (`tamio actions retry {action.id} --as YOU`)."
    )


async def test_the_approvers_edit_is_what_is_sent(session_factory: async_sessionmaker[AsyncSession]) -> None:
    team, [action_id] = await _approved_emails(session_factory, 1, edited_subject="About INV-1", edited_body="Hi Jo, just checking on INV-1.")
    with Mailbox() as mailbox:
        outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=NOW, settings=settings_for(mailbox.port))
    assert outcome.status == "executed"
    [message] = mailbox.messages
    assert message["Subject"] == "About INV-1" and str(message.get_payload()).strip() == "Hi Jo, just checking on INV-1."


class _Dies:
    """The real sender, in a process that is killed right after the server accepted the message
    (``after_data``), or in the middle of the envelope, before ``DATA`` was ever sent."""

    def __init__(self, settings: Settings, *, after_data: bool) -> None:
        self.real = SmtpEmailSender(settings)
        self.after_data = after_data
        self.died = asyncio.Event()

    async def send(self, message: EmailMessage, *, before_data: Callable[[], Awaitable[None]]) -> None:
        if self.after_data:
            await self.real.send(message, before_data=before_data)
        self.died.set()
        await asyncio.Event().wait()  # killed here, before the send is recorded


async def _killed_mid_send(session_factory: async_sessionmaker[AsyncSession], mailbox: Mailbox, *, after_data: bool) -> tuple[Team, str]:
    team, [action_id] = await _approved_emails(session_factory, 1)
    settings = settings_for(mailbox.port)
    dying = _Dies(settings, after_data=after_data)
    worker = asyncio.create_task(execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=NOW, settings=settings, smtp=dying))
    await asyncio.wait_for(dying.died.wait(), 10)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    status, attempts, _, lease = await _action(session_factory, team, action_id)
    assert (status, attempts, lease) == (ActionStatus.EXECUTING, 1, later(5))
    assert await resume_pending_executions(session_factory, later(2), settings=settings) == []  # its lease still runs
    return team, action_id


async def test_a_send_cut_off_after_the_server_accepted_is_not_repeated_until_a_person_retries(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The finding: a kill -9 between the server's acceptance and its record sent the email twice."""
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        team, action_id = await _killed_mid_send(session_factory, mailbox, after_data=True)
        [outcome] = await resume_pending_executions(session_factory, later(6), settings=settings)
        assert (outcome.status, outcome.attempts, len(mailbox.messages)) == ("failed", 2, 1)
        assert outcome.error is not None and "may already have been sent" in outcome.error and "ap0@client.test" in outcome.error
        assert await resume_pending_executions(session_factory, later(60), settings=settings) == []  # nothing by itself
        async with session_factory() as session:
            ledger = (await session.execute(select(ExecutionRecord).where(
                ExecutionRecord.action_id == action_id, ExecutionRecord.event == "email"))).scalar_one()
            assert ledger.result["state"] == "possibly_sent"
        async with session_factory() as session, session.begin():  # a person checked: it did not arrive; send it again
            await retry(session, account=team.account, member=team.maria, action_id=action_id, now=later(61))
        [outcome] = await resume_pending_executions(session_factory, later(61), settings=settings)
    assert outcome.status == "executed"
    assert len(mailbox.messages) == 2 and len(set(mailbox.message_ids)) == 1  # sent again on request, same Message-ID
    async with session_factory() as session:
        assert await count_records(session, action_id, "executed") == 1


async def test_a_send_cut_off_before_data_is_simply_sent_on_resume(session_factory: async_sessionmaker[AsyncSession]) -> None:
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        _, action_id = await _killed_mid_send(session_factory, mailbox, after_data=False)
        [outcome] = await resume_pending_executions(session_factory, later(6), settings=settings)
    assert (outcome.status, outcome.attempts) == ("executed", 2) and len(mailbox.messages) == 1


async def test_an_email_already_sent_is_not_sent_again_when_a_later_step_failed(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    schedule_id = world.ids["northwind_dec"]
    async with session_factory() as session, session.begin():  # someone queued the payment meanwhile
        await session.execute(update(ObligationSchedule).where(ObligationSchedule.id == schedule_id).values(status=ScheduleStatus.QUEUED))
        params = {"moves": [{"schedule_id": schedule_id, "new_date": "2026-12-30"}], "notify_vendor": True}
        action = await make_action(session, world.team.account, "vendor_delay", amount="8000", options=[
            option("delay_payment", params, recipient_email="billing@northwind.test", draft_subject="Paying on 30 Dec", draft_body="May we pay on 30 Dec?")
        ])
        await approve(session, account=world.team.account, member=world.team.maria, action_id=action.id, option_id=(await first_option(session, action)).id, now=NOW)
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        failed = await execute_action(session_factory, account_id=world.account_id, action_id=action.id, now=NOW, settings=settings)
        assert failed.status == "failed" and failed.error and "already queued" in failed.error
        async with session_factory() as session, session.begin():  # fixed: it is not queued after all
            await session.execute(update(ObligationSchedule).where(ObligationSchedule.id == schedule_id).values(status=ScheduleStatus.SCHEDULED))
            await retry(session, account=world.team.account, member=world.team.maria, action_id=action.id, now=later(10))
        done = await execute_action(session_factory, account_id=world.account_id, action_id=action.id, now=later(10), settings=settings)
    assert done.status == "executed" and len(mailbox.messages) == 1  # the notice went out once, on the first attempt
    async with session_factory() as session:
        asked = await session.get(ObligationSchedule, schedule_id)  # the vendor was asked: moved once they agree (19.6)
        assert asked is not None and (str(asked.due_date), str(asked.delay_requested_to)) == ("2026-12-16", "2026-12-30")


async def test_nothing_is_executed_before_it_is_approved(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        action = await make_action(session, team.account)
    outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action.id, now=NOW, settings=settings_for(1))
    assert (outcome.status, outcome.ran, outcome.message) == ("pending", False, "It is pending, not approved.")


# -- an edited draft belongs to the option it was edited for ----------------------------------

OPTION_1 = email_option(to="ap@acme.test", subject="INV-1 is 12 days late", body="Hi Acme, could you pay INV-1?")
OPTION_2 = email_option(to="cfo@acme.test", subject="Escalation: INV-1", body="Dear CFO, INV-1 is overdue.", title="Escalate to the CFO")


async def _edited_in_slack(sessions: async_sessionmaker[AsyncSession], *, rank: int = 1, amount: str = "4200") -> tuple[Team, str, list[str]]:
    """Two email options; maria saves an edit of option ``rank``'s draft the way the Slack app's Edit draft does."""
    async with sessions() as session, session.begin():
        team = await Team.open(session)
        action = await make_action(session, team.account, amount=amount, options=[OPTION_1, OPTION_2])
        ids = [o.id for o in await options_of(session, action)]
        assert await compare_and_set(session, action, to=ActionStatus.PENDING, now=NOW,
                                     edited_subject="Friendly nudge: INV-1", edited_body="Hi Acme, just a nudge about INV-1.")
        await record_transition(session, action=action, event="draft_edited", from_status=ActionStatus.PENDING, actor=Actor.member(team.maria),
                                 now=NOW, option_id=ids[rank - 1], result={"subject": "Friendly nudge: INV-1", "body_changed": True, "version": action.version})
    return team, action.id, ids


async def _approve_and_send(sessions: async_sessionmaker[AsyncSession], team: Team, action_id: str, option_id: str, **edits: str) -> Mailbox:
    async with sessions() as session, session.begin():
        await approve(session, account=team.account, member=team.li, action_id=action_id, option_id=option_id, now=later(5), **edits)
    with Mailbox() as mailbox:
        outcome = await execute_action(sessions, account_id=team.account.id, action_id=action_id, now=later(5), settings=settings_for(mailbox.port))
    assert outcome.status == "executed", outcome.error
    return mailbox


async def test_an_edit_of_option_1_is_not_sent_when_option_2_is_approved(session_factory: async_sessionmaker[AsyncSession]) -> None:
    team, action_id, [first, second] = await _edited_in_slack(session_factory)
    mailbox = await _approve_and_send(session_factory, team, action_id, second)  # as POST .../approve or `tamio actions approve --option 2`
    [message] = mailbox.messages
    assert (message["To"], message["Subject"], str(message.get_payload()).strip()) == ("cfo@acme.test", "Escalation: INV-1", "Dear CFO, INV-1 is overdue.")
    async with session_factory() as session:
        action = await load_action(session, account_id=team.account.id, action_id=action_id)
        assert (action.edited_subject, action.edited_body) == (None, None)  # the dropped edit is in the approval's record
        approved = (await session.execute(select(ExecutionRecord).where(ExecutionRecord.action_id == action_id, ExecutionRecord.event == "approved"))).scalar_one()
        assert approved.result["discarded_edit"] == {"option_id": first, "subject": "Friendly nudge: INV-1", "body": "Hi Acme, just a nudge about INV-1."}


async def test_an_edit_is_sent_with_the_option_it_was_made_for(session_factory: async_sessionmaker[AsyncSession]) -> None:
    team, action_id, [first, _] = await _edited_in_slack(session_factory)
    [message] = (await _approve_and_send(session_factory, team, action_id, first)).messages
    assert (message["To"], message["Subject"], str(message.get_payload()).strip()) == ("ap@acme.test", "Friendly nudge: INV-1", "Hi Acme, just a nudge about INV-1.")


async def test_an_edit_passed_with_the_approval_is_for_the_approved_option(session_factory: async_sessionmaker[AsyncSession]) -> None:
    team, action_id, [_, second] = await _edited_in_slack(session_factory)
    mailbox = await _approve_and_send(session_factory, team, action_id, second, edited_body="Dear CFO, please look at INV-1.")
    [message] = mailbox.messages  # option 2's own subject, not option 1's edited one
    assert (message["To"], message["Subject"], str(message.get_payload()).strip()) == ("cfo@acme.test", "Escalation: INV-1", "Dear CFO, please look at INV-1.")


async def test_dual_control_edits_stay_with_the_option_the_first_approver_chose(session_factory: async_sessionmaker[AsyncSession]) -> None:
    team, action_id, [_, second] = await _edited_in_slack(session_factory, amount="12000")  # at or above the $10,000 threshold
    async with session_factory() as session, session.begin():
        await approve(session, account=team.account, member=team.maria, action_id=action_id, option_id=second, now=later(1), edited_subject="INV-1, 12 days late")
        action = await load_action(session, account_id=team.account.id, action_id=action_id)
        assert action.status == ActionStatus.PENDING and (action.edited_subject, action.edited_body) == ("INV-1, 12 days late", None)
        assert await edited_options(session, account_id=team.account.id, actions=[action]) == {action_id: second}
    [message] = (await _approve_and_send(session_factory, team, action_id, second)).messages
    assert (message["To"], message["Subject"], str(message.get_payload()).strip()) == ("cfo@acme.test", "INV-1, 12 days late", "Dear CFO, INV-1 is overdue.")


async def test_the_executor_ignores_an_edit_stored_for_another_option(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """An action approved before approvals dropped other options' edits still sends the chosen option's own draft."""
    team, action_id, [_, second] = await _edited_in_slack(session_factory)
    async with session_factory() as session, session.begin():
        action = await load_action(session, account_id=team.account.id, action_id=action_id)
        assert await compare_and_set(session, action, to=ActionStatus.APPROVED, now=NOW, chosen_option_id=second, decided_at=NOW)
    with Mailbox() as mailbox:
        outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=later(5), settings=settings_for(mailbox.port))
    assert outcome.status == "executed"
    [message] = mailbox.messages
    assert (message["To"], message["Subject"]) == ("cfo@acme.test", "Escalation: INV-1")
