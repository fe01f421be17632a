"""The first day of a real business (issue 19), walked through the sandbox page in Chromium.

A fresh business (``tamio sandbox --no-seed``: the sandbox workspace's first admin opens the account
with the first command, as on a real install) enters the late invoices it already has, from the
command line of Slack and from the add form; hits each limit on input and gets a clear message
(the amount, a 10,000-character name, an unknown currency, a date not on the calendar, a currency
with no exchange rate); and reads the same runway in ``/tamio forecast``, ``/tamio forecast 4``,
``/tamio alerts`` and App Home. Screenshots of each step go to ``test-output/``.

The sandbox runs on the wall clock (``tamio sandbox`` has no other), and "today" is the account's:
Europe/London, the timezone of the sandbox's people, which the first admin's request gives the account.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.test_sandbox import (
    STEP_MS,
    RunningSandbox,
    open_home,
    running_sandbox,
    scroll_to,
    shoot,
    switch_to,
    type_command,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one browser at a time

TIMEZONE = ZoneInfo("Europe/London")  # the sandbox people's `tz`, adopted by the account on its first request
RUNWAY = re.compile(r"Runway (.+?)(?:\n|$)")


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """`tamio sandbox --no-seed` on a fresh SQLite database: no demo company, an empty workspace."""
    with running_sandbox(tmp_path, "--no-seed") as running:
        yield running


def today() -> date:
    return datetime.now(TIMEZONE).date()


def books(db: Path) -> dict[str, int]:
    """How many clients, vendors and agreements the sandbox's database holds."""
    with closing(sqlite3.connect(db)) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (our own names)
                for table in ("clients", "expense_buckets", "obligation_agreements")}


def figures_settled(page: Page, db: Path) -> None:
    """Wait until the server has worked the figures out again after the last change (no refresh request
    waiting: it drains every TAMIO_REFRESH_SECONDS), so alerts and App Home show what the forecast does.
    A poll, like tests/waiting.py's: no event announces it."""
    deadline = time.monotonic() + STEP_MS / 1000
    while True:
        with closing(sqlite3.connect(db)) as connection:
            if connection.execute("SELECT count(*) FROM refresh_requests").fetchone()[0] == 0:
                return
        assert time.monotonic() < deadline, "the server did not work the figures out again in time"
        page.wait_for_timeout(20)


def reply(page: Page, text: str) -> Locator:
    """The newest reply only the caller sees that contains ``text``."""
    return page.locator("article.message.ephemeral").filter(has_text=text).last


def said(page: Page, command: str, expected: str, screenshot: Path) -> str:
    """Type a command, wait for the reply that contains ``expected``, screenshot it; its visible text."""
    type_command(page, command)
    answer = reply(page, expected)
    expect(answer).to_be_visible(timeout=STEP_MS)
    scroll_to(answer)
    shoot(page, screenshot)
    return answer.inner_text()


def test_a_fresh_business_enters_late_invoices_hits_limits_and_sees_one_runway(
    fresh_sandbox: RunningSandbox, chromium: str, screenshots: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(fresh_sandbox.url)
        expect(page.locator("#pane-title")).to_have_text("# cash-flow")
        switch_to(page, "U0ADMIN")  # the workspace's Slack admin: the new account's first admin

        # 0. The business starts: its bank balance and its rent, which runs the cash below zero in
        # about three months (after the fourth week, so a 4-week forecast never sees it happen).
        said(page, '/tamio balance set "Operating" 20000', "Operating", screenshots / "00-balance.png")
        said(page, '/tamio add expense "Rent" 9000 monthly', "Rent", screenshots / "01-rent.png")

        # 1. A late invoice from the command line: accepted, and said to be overdue already.
        due = today() - timedelta(days=16)
        text = said(page, f'/tamio add client "Late Payer Co" invoice 5000 due {due.isoformat()} ref INV-1042',
                    "Late Payer Co", screenshots / "02-overdue-invoice-command.png")
        assert "already 16 days overdue" in text, text
        assert "INV-1042" in text and "$5,000.00" in text, text

        # 2. The same through the add form, with a first date in the past.
        type_command(page, "/tamio add client")
        modal = page.get_by_role("dialog", name="Add to Tamio")
        expect(modal).to_be_visible(timeout=STEP_MS)
        modal.locator(".bk-input-block[data-block-id=counterparty] input").fill("Slow Pay Ltd")
        modal.locator(".bk-suggestion", has_text="New: Slow Pay Ltd").click()
        modal.locator(".bk-input-block[data-block-id=amount] input").fill("2,500")
        modal.locator(".bk-input-block[data-block-id=frequency] select").select_option("once")
        modal.locator(".bk-input-block[data-block-id=start_date] input").fill((today() - timedelta(days=9)).isoformat())
        modal.locator(".bk-input-block[data-block-id=invoice] input").fill("INV-2001")
        shoot(page, screenshots / "03-overdue-invoice-form.png")
        modal.get_by_role("button", name="Add").click()
        expect(modal).to_have_count(0, timeout=STEP_MS)
        added = reply(page, "Slow Pay Ltd")
        expect(added).to_contain_text("already 9 days overdue", timeout=STEP_MS)
        expect(added).to_contain_text("INV-2001")
        scroll_to(added)
        shoot(page, screenshots / "04-overdue-invoice-form-added.png")

        # 3. The limits, each with a clear message (and nothing written).
        text = said(page, '/tamio add expense "Vault" 99999999999999999 monthly', "more than Tamio takes",
                    screenshots / "05-amount-too-large.png")
        assert "99,999,999,999,999,999" in text and "at most 1,000,000,000,000 in any currency" in text, text

        long_name = ("Acme " * 2000)[:9_999] + "x"
        assert len(long_name) == 10_000
        type_command(page, f'/tamio add client "{long_name}" 100 monthly')
        refusal = reply(page, "characters")
        expect(refusal).to_be_visible(timeout=STEP_MS)
        expect(refusal).to_contain_text("10,000 characters; use at most 200")
        shown = refusal.inner_text()
        assert "*" not in shown, shown  # the bold was closed: nothing cut in the middle of a *...* span
        assert len(shown) < 1000, len(shown)  # the name is not echoed whole
        scroll_to(refusal)
        shoot(page, screenshots / "06-name-too-long.png")

        text = said(page, '/tamio add expense "Printer" 300 XYZ monthly', "XYZ", screenshots / "07-unknown-currency.png")
        assert "not a currency I know" in text, text

        text = said(page, '/tamio add client "Feb Co" invoice 700 due 2027-02-31', "2027-02-31",
                    screenshots / "08-no-such-date.png")
        assert "not a date on the calendar" in text, text

        text = said(page, '/tamio add expense "Zurich Office" 1000 CHF monthly', "CHF", screenshots / "09-no-rate.png")
        assert "/tamio rate CHF" in text, text
        assert "tamio rates add" not in text, text  # a Slack user is told a Slack command, not the CLI
        assert books(fresh_sandbox.db) == {"clients": 2, "expense_buckets": 1, "obligation_agreements": 3}  # nothing refused was written

        # 4. One runway: the 13-week forecast, the 4-week one and App Home say the same.
        forecast = said(page, "/tamio forecast", "Runway", screenshots / "10-forecast.png")
        found = RUNWAY.search(forecast)
        assert found, forecast
        runway = found.group(1).strip()
        assert re.fullmatch(r"\d+(\.\d)? weeks \(\d+(\.\d)? months\)", runway), runway  # cash falls below the buffer within 13 weeks
        type_command(page, "/tamio forecast 4")
        short = page.locator("article.message.ephemeral").filter(has_text="Runway").nth(1)
        expect(short).to_contain_text(f"Runway {runway}", timeout=STEP_MS)
        scroll_to(short)
        shoot(page, screenshots / "11-forecast-4.png")
        figures_settled(page, fresh_sandbox.db)  # the first forecast extended the schedules' horizon: a refresh follows
        alerts = said(page, "/tamio alerts", f"Runway is {runway}", screenshots / "12-alerts.png")
        assert re.search(r"burning \$[\d,]+\.\d\d a month", alerts), alerts
        open_home(page)
        home = page.locator(".home")
        expect(home).to_contain_text(f"Runway {runway}", timeout=STEP_MS)  # the headline
        # The open runway alert says the same, and what its amount is.
        expect(home).to_contain_text(re.compile(rf"Runway is {re.escape(runway)} — by the week of [^,]+, burning \$[\d,]+\.\d\d a month"))
        shoot(page, screenshots / "13-home.png")

        assert not errors, errors
        browser.close()
