"""``make run``'s processes in a real browser: the demo company, Tamio's real app, the Slack sandbox page.

One story, screenshotted step by step under ``test-output/``: the forecast with its chart and weekly
table; ``/tamio run`` and its action cards; an approver picks an option and approves (the card
becomes "Approved by ...", after Slack's confirm dialog, and the buffer card that offered to chase
the same invoice is superseded); a viewer is refused and sees on App Home only that something needs
attention; the approver's queue is shorter; and an expense is added through the modal, with a
field error first.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one browser at a time

STARTUP_S = 300  # how long to wait for a hung start-up (a normal one prints its address in seconds)
STOP_S = 60  # and for a hung stop
STEP_MS = 20_000
ADDRESS = re.compile(r"Tamio sandbox: (http://127\.0\.0\.1:\d+/)")


@dataclass
class RunningSandbox:
    """`tamio sandbox` in its own process group, and what it printed."""

    process: subprocess.Popen[str]
    db: Path
    url: str = ""
    output: list[str] = field(default_factory=list)
    told: threading.Event = field(default_factory=threading.Event)  # it printed its address, or ended

    def printed(self) -> str:
        return "".join(self.output)


def _read_output(sandbox: RunningSandbox) -> None:
    assert sandbox.process.stdout is not None
    for line in sandbox.process.stdout:
        sandbox.output.append(line)
        found = ADDRESS.search(line)
        if found and not sandbox.url:
            sandbox.url = found.group(1)
            sandbox.told.set()
    sandbox.told.set()  # its output ended without an address


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """`tamio sandbox` on free ports with a fresh SQLite database; stopped with Ctrl-C (SIGINT to the group)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_", "TAMIO_"))}
    env.update(TAMIO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "tamio.cli", "sandbox", "--port", str(free_port()), "--app-port", str(free_port())]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    running = RunningSandbox(process, tmp_path / "sandbox.db")
    threading.Thread(target=_read_output, args=(running,), daemon=True).start()
    try:
        running.told.wait(timeout=STARTUP_S)  # the timeout only catches a hang
        assert running.url, f"`tamio sandbox` did not print its address:\n{running.printed()}"
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
            try:
                process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                pytest.fail(f"`tamio sandbox` did not stop on Ctrl-C:\n{running.printed()}")
    assert process.returncode == 0, f"`tamio sandbox` stopped with {process.returncode}:\n{running.printed()}"
    leftovers = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"processes left in the sandbox's group: {leftovers}"


@pytest.mark.parametrize("busy", ["--port", "--app-port"])
def test_a_busy_port_is_refused_before_anything_is_written(tmp_path: Path, busy: str) -> None:
    ports = {"--port": free_port(), "--app-port": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_", "TAMIO_"))}
    env.update(TAMIO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports[busy]))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "tamio.cli", "sandbox", *(str(x) for kv in ports.items() for x in kv)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert f"can't listen on 127.0.0.1:{ports[busy]}" in done.stderr and busy in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sandbox.db").exists()


def type_command(page: Page, text: str) -> None:
    page.locator("#composer").fill(text)
    page.locator("#composer").press("Enter")


def switch_to(page: Page, user_id: str) -> None:
    page.locator("#member").select_option(user_id)


def card(page: Page, title: str) -> Locator:
    """The channel message whose header contains ``title`` (the action card)."""
    return page.locator("article.message:not(.ephemeral)").filter(has=page.locator(".bk-header", has_text=title)).last


def queue_size(page: Page) -> int:
    heading = page.locator(".home .bk-header", has_text="Waiting for you")
    expect(heading).to_be_visible(timeout=STEP_MS)
    found = re.search(r"\((\d+)\)", heading.inner_text())
    assert found, heading.inner_text()
    return int(found.group(1))


def scroll_to(message: Locator, attempts: int = 5) -> None:
    """Scroll a message into view; the page may redraw it meanwhile (a later update of the same
    message), which detaches the element found first: then find it again."""
    for attempt in range(attempts):
        try:
            message.scroll_into_view_if_needed()
            return
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == attempts - 1:
                raise


def shoot(page: Page, path: Path) -> None:
    """A screenshot without a hover highlight: the pointer rests on the channel header first."""
    page.mouse.move(700, 20)
    page.screenshot(path=path)


def figures_agree(sandbox_db: Path) -> None:
    """The consistency check (issue 15, item 7) on the sandbox's database: its alerts and pending cards
    agree with the forecast, once the refresh the last step asked for has run (the server drains every
    3 s; a refresh drops its request in the transaction that restates the cards)."""
    from sqlalchemy import func, select

    from tamio.accounts.models import Account
    from tamio.config import Settings
    from tamio.db import create_engine, make_session_factory, utcnow
    from tamio.refresh.models import RefreshRequest
    from tests.consistency import discrepancies
    from tests.pgcluster import run_in_thread
    from tests.waiting import until

    settings = Settings(database_url=f"sqlite+aiosqlite:///{sandbox_db}", use_obligation_for_forecast=True)

    async def look() -> list[str]:
        engine = create_engine(settings.database_url)
        sessions = make_session_factory(engine)

        async def refreshed() -> bool:
            async with sessions() as db:
                return int((await db.execute(select(func.count()).select_from(RefreshRequest))).scalar_one()) == 0

        try:
            await until(refreshed, what="the server answered every refresh request")
            async with sessions() as db:
                account_id = (await db.execute(select(Account.id))).scalars().first()
                assert account_id is not None
                found = await discrepancies(db, account_id=account_id, now=utcnow(), settings=settings)
                await db.rollback()
                return found
        finally:
            await engine.dispose()

    problems = run_in_thread(look())  # in a thread of its own: Playwright's loop runs in this one
    assert problems == [], "\n".join(problems)


def pending_count(sandbox_db: Path) -> int:
    from sqlalchemy import func, select

    from tamio.db import create_engine, make_session_factory
    from tamio.preparation.models import ActionStatus, PreparedAction
    from tests.pgcluster import run_in_thread

    async def count() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{sandbox_db}")
        try:
            async with make_session_factory(engine)() as db:
                stmt = select(func.count()).select_from(PreparedAction).where(PreparedAction.status == ActionStatus.PENDING)
                return int((await db.execute(stmt)).scalar_one())
        finally:
            await engine.dispose()

    return run_in_thread(count())


def open_home(page: Page) -> None:
    page.locator("#nav-app").click()
    page.get_by_role("tab", name="Home").click()


def confirm_approval(page: Page) -> None:
    dialog = page.get_by_role("alertdialog", name="Approve this action?")
    expect(dialog).to_be_visible(timeout=STEP_MS)
    dialog.get_by_role("button", name="Approve").click()
    expect(dialog).to_have_count(0)


def test_the_sandbox_shows_tamio_doing_its_job(sandbox: RunningSandbox, chromium: str, screenshots: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(sandbox.url)
        expect(page.locator("#pane-title")).to_have_text("# cash-flow")

        # 1. The forecast: visible only to the caller, with the uploaded chart and the weekly table.
        type_command(page, "/tamio forecast")
        forecast = page.locator("article.message.ephemeral").filter(has_text="Cash forecast").last
        expect(forecast.locator(".only-you")).to_contain_text("Only visible to you", timeout=STEP_MS)
        chart = forecast.locator(".bk-image img")
        expect(chart).to_be_visible(timeout=STEP_MS)
        page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=chart.element_handle())
        table = forecast.locator("pre.mrk-pre").first
        expect(table).to_contain_text("Week")
        expect(table).to_contain_text("Close")
        assert len(table.inner_text().strip().splitlines()) == 14  # the header and 13 weeks
        scroll_to(forecast)
        shoot(page, screenshots / "01-forecast.png")
        # Its "Open App Home" button (a slack.com/app_redirect link) opens the app's Home, as in Slack.
        forecast.get_by_role("button", name="Open App Home").click()
        expect(page.get_by_role("tab", name="Home")).to_have_attribute("aria-selected", "true")
        expect(page.locator(".home .bk-header").first).to_be_visible(timeout=STEP_MS)
        page.locator("#nav-channels .nav-item").first.click()
        figures_agree(sandbox.db)

        # 2. /tamio run: the report, and cards for the late payment, the payroll risk and the buffer breach.
        type_command(page, "/tamio run")
        expect(page.locator("article.ephemeral", has_text="Checked.")).to_be_visible(timeout=STEP_MS)
        for title in ("days late", "Payroll", "buffer"):
            expect(card(page, title).get_by_role("button", name="Approve")).to_be_visible(timeout=STEP_MS)
        shoot(page, screenshots / "02-run-cards.png")
        figures_agree(sandbox.db)

        # App Home before any decision: the queue of actions waiting.
        switch_to(page, "U0APPROVER")
        open_home(page)
        waiting_before = queue_size(page)
        assert waiting_before >= 3
        home_chart = page.locator(".home .bk-image img").first
        page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=home_chart.element_handle(),
                               timeout=STEP_MS)
        shoot(page, screenshots / "03-home-before.png")

        # 3. An approver picks the second option of the late-payment card and approves it.
        page.locator("#nav-channels .nav-item").first.click()
        late = card(page, "days late")
        options = late.locator(".bk-radios input[type=radio]")
        if options.count() > 1:
            late.locator(".bk-radios label").nth(1).click()
            expect(options.nth(1)).to_be_checked()
        chosen = late.locator(".bk-radios label").nth(1 if options.count() > 1 else 0).inner_text().split("\n")[0]
        late.get_by_role("button", name="Approve").click()
        confirm_approval(page)  # it emails the client: Slack asks first
        expect(late).to_contain_text("Approved by @Sam Okafor", timeout=STEP_MS)
        expect(late.get_by_role("button", name="Approve")).to_have_count(0)
        if options.count() > 1:
            expect(late).to_contain_text(chosen.split(". ", 1)[-1][:30])
        # Carrying it out sends the drafted email, over SMTP, to the sandbox's mailbox.
        expect(late).to_contain_text("Executed", timeout=STEP_MS)
        expect(page.locator("#mail-count")).to_have_text("1", timeout=STEP_MS)
        scroll_to(late)
        shoot(page, screenshots / "04-approved.png")
        # The buffer-breach card also offered to chase that invoice: no second chase, it is superseded and says why.
        superseded = page.locator("article.message:not(.ephemeral)").filter(has_text="Superseded")
        expect(page.locator("article.message:not(.ephemeral)").filter(has_text="was carried out first and changed the same payment")
               .filter(has=page.locator(".bk-header", has_text="buffer"))).to_be_visible(timeout=STEP_MS)
        gone = superseded.count()
        figures_agree(sandbox.db)  # the email changed what may be proposed: the refresh followed

        # 4. A viewer may look but not decide.
        switch_to(page, "U0VIEWER")
        pending = card(page, "sales tax")
        expect(pending.get_by_role("button", name="Approve")).to_be_visible(timeout=STEP_MS)
        pending.get_by_role("button", name="Approve").click()
        confirm_approval(page)
        refusal = page.locator("article.ephemeral", has_text="Only approvers and admins")
        expect(refusal).to_be_visible(timeout=STEP_MS)
        expect(pending.get_by_role("button", name="Approve")).to_be_visible()
        scroll_to(refusal)
        shoot(page, screenshots / "05-viewer-refused.png")
        figures_agree(sandbox.db)  # a refused click changes nothing

        # 5. App Home: the viewer sees only that something needs attention (no figures by default) ...
        open_home(page)
        expect(page.locator(".home", has_text="Something needs attention")).to_be_visible(timeout=STEP_MS)
        expect(page.locator(".home .bk-image img")).to_have_count(0)
        # ... and for the approver, the approved action and those it superseded no longer wait; the buffer
        # breach, still open, has a fresh card from the figures after the email (no chase of that invoice in it).
        switch_to(page, "U0APPROVER")
        open_home(page)
        waiting_now = pending_count(sandbox.db)
        assert waiting_now == waiting_before - 1 - gone + 1, (waiting_before, gone, waiting_now)
        expect(page.locator(".home .bk-header", has_text=f"Waiting for you ({waiting_now})")).to_be_visible(timeout=STEP_MS)
        shoot(page, screenshots / "06-home-after.png")
        figures_agree(sandbox.db)

        # 6. The admin adds an expense in the modal; a wrong amount first gets a field error.
        switch_to(page, "U0ADMIN")
        page.locator("#nav-channels .nav-item").first.click()
        type_command(page, "/tamio add expense")
        modal = page.get_by_role("dialog", name="Add to Tamio")
        expect(modal).to_be_visible(timeout=STEP_MS)
        who = modal.locator(".bk-input-block[data-block-id=counterparty] input")
        who.fill("Print Shop")
        modal.locator(".bk-suggestion", has_text="New: Print Shop").click()
        amount = modal.locator(".bk-input-block[data-block-id=amount] input")
        amount.fill("12,00.5")
        modal.get_by_role("button", name="Add").click()
        error = modal.locator(".bk-input-block[data-block-id=amount] .bk-error")
        expect(error).to_be_visible(timeout=STEP_MS)
        expect(error).to_contain_text("1,200.50")  # how to write it, as a plain-text field error
        shoot(page, screenshots / "07-modal-field-error.png")
        amount.fill("1200")
        modal.get_by_role("button", name="Add").click()
        expect(modal).to_have_count(0, timeout=STEP_MS)
        expect(page.locator("article.ephemeral", has_text="Print Shop")).to_be_visible(timeout=STEP_MS)
        shoot(page, screenshots / "08-expense-added.png")
        figures_agree(sandbox.db)

        assert not errors, errors
        browser.close()
