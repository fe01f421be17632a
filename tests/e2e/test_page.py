"""The sandbox page against a tiny Bolt app: what Slack would send, what Slack would show.

The app here is a real ``AsyncApp`` checking Slack's signature, its Web API client pointed at the
stand-in; the page's endpoints (and, in the browser test, the page itself) must get its messages,
updates, ephemerals, modals, suggestions and field errors across exactly as Slack would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiohttp import web
from playwright.async_api import async_playwright, expect
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from slack_sandbox.page import SandboxPage, install_page
from slack_sandbox.page.feed import Layout, Person
from slack_sandbox.page.mailbox import Mailbox
from slack_sandbox.signed import SlackSender
from slack_sandbox.standin import SlackStandIn
from tests.e2e.conftest import CHROMIUM_ARGS, free_port
from tests.waiting import until

pytestmark = pytest.mark.xdist_group("browser")  # with test_sandbox.py on one worker: one browser at a time
SECRET = "tiny-app-signing-secret"
CHANNEL = "C0CASHFLOW"
ADMIN, VIEWER = "U0ADMIN", "U0VIEWER"
PEOPLE = (Person(ADMIN, "Maria Lopez", "admin"), Person(VIEWER, "Alex Kim", "viewer"))
DECEMBER_11_NOON = 1796990400  # 2026-12-11 12:00 UTC: the same date in every time zone within 11 hours
TRICKY_MRKDWN = (
    "*Bold* _leaning_ ~gone~ `a_code` <https://example.com/a?b=1&amp;c=2|the docs> for <@U0ADMIN> "
    f"on <!date^{DECEMBER_11_NOON}^{{date_num}}|11 Dec> &lt;script&gt;alert(1)&lt;/script&gt; snake_case_name"
)


def card(number: int) -> list[dict[str, Any]]:
    plain = {"type": "plain_text", "text": f"Pay <Cloud Host> & co #{number} :warning:", "emoji": True}
    return [
        {"type": "header", "text": plain},
        {"type": "section", "text": {"type": "mrkdwn", "text": TRICKY_MRKDWN}},
        {"type": "section", "block_id": "choice", "text": {"type": "mrkdwn", "text": "*Choose:*"},
         "accessory": {"type": "radio_buttons", "action_id": "pick", "initial_option": option("a"),
                       "options": [option("a"), option("b")]}},
        {"type": "actions", "block_id": "buttons", "elements": [
            {"type": "button", "action_id": "approve", "value": f"card-{number}", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "skip", "value": f"card-{number}", "style": "danger",
             "text": {"type": "plain_text", "text": "Skip"},
             "confirm": {"title": {"type": "plain_text", "text": "Skip it?"}, "text": {"type": "mrkdwn", "text": "Really?"},
                         "confirm": {"type": "plain_text", "text": "Skip it"}, "deny": {"type": "plain_text", "text": "Keep"}}},
        ]},
    ]


def option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": f"Option {value.upper()}"}, "value": value}


FORM = {
    "type": "modal", "callback_id": "form", "title": {"type": "plain_text", "text": "Tiny form"},
    "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {"type": "input", "block_id": "who", "label": {"type": "plain_text", "text": "Who"},
         "element": {"type": "external_select", "action_id": "who", "min_query_length": 0}},
        {"type": "input", "block_id": "amount", "label": {"type": "plain_text", "text": "Amount"},
         "element": {"type": "plain_text_input", "action_id": "amount"}},
    ],
}


def tiny_app(slack: SlackStandIn) -> AsyncApp:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    app = AsyncApp(signing_secret=SECRET, client=client, process_before_response=True)

    @app.command("/tamio")
    async def command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        if body["text"] == "form":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=FORM)
            return
        await ack(f"Working on `{body['text']}`…")
        number = len(slack.messages(body["channel_id"])) + 1
        await client.chat_postMessage(channel=body["channel_id"], text="a card", blocks=card(number))

    @app.action("pick")
    async def pick(ack: Any) -> None:
        await ack()

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        picked = body["state"]["values"]["choice"]["pick"]["selected_option"]["value"]
        text = f"Approved by <@{body['user']['id']}>: option {picked}, {body['actions'][0]['value']}"
        await client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"], text=text,
                                 blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])

    @app.action("skip")
    async def skip(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"], text="Skipped, as you asked.")

    @app.options("who")
    async def who(ack: Any, body: dict[str, Any]) -> None:
        typed = body["value"]
        await ack(options=[{"text": {"type": "plain_text", "text": f"New: {typed}"}, "value": f"new:{typed}"}])

    @app.view("form")
    async def save(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        values = body["view"]["state"]["values"]
        amount = values["amount"]["amount"]["value"] or ""
        if not amount.isdigit():
            await ack(response_action="errors", errors={"amount": f"Write {amount!r} in digits, like 1200."})
            return
        await ack()
        who = values["who"]["who"]["selected_option"]["value"]
        await client.chat_postMessage(channel=CHANNEL, text=f"Saved {who} for {amount}")

    return app


@dataclass
class Tiny:
    slack: SlackStandIn
    page: SandboxPage
    url: str

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.post(self.url + path, json=body) as response:
            return dict(await response.json())

    async def state(self, user: str = ADMIN, since: int = -1) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(
            f"{self.url}sandbox/state", params={"user": user, "since": str(since)}
        ) as response:
            assert response.status == 200
            return dict(await response.json())


async def start_tiny(secret_the_page_uses: str = SECRET) -> AsyncIterator[Tiny]:
    app_port = free_port()
    slack = SlackStandIn(users={ADMIN: {"name": "maria", "real_name": "Maria Lopez", "display_name": "Maria Lopez",
                                        "is_admin": True},
                                VIEWER: {"name": "alex", "real_name": "Alex Kim", "display_name": "Alex Kim"}},
                         channels={CHANNEL: "cash-flow"})
    sender = SlackSender(f"http://127.0.0.1:{app_port}/slack/events", secret_the_page_uses, slack.workspace.team_id, slack)
    page = install_page(slack, sender, layout=Layout("Tiny Co", CHANNEL, "cash-flow", PEOPLE))
    await slack.start()
    runner = web.AppRunner(tiny_app(slack).web_app(path="/slack/events", port=app_port), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", app_port).start()
    try:
        yield Tiny(slack, page, slack.base_url)
    finally:
        await runner.cleanup()
        await slack.stop()


@pytest.fixture
async def tiny() -> AsyncIterator[Tiny]:
    async for running in start_tiny():
        yield running


async def test_commands_clicks_and_forms_reach_the_app_signed_and_come_back_in_the_feed(tiny: Tiny) -> None:
    first = await tiny.state()
    assert first["messages"][CHANNEL] == [] and first["users"][ADMIN] == "Maria Lopez"

    answer = await tiny.post("sandbox/command", {"user": ADMIN, "channel": CHANNEL, "text": "/tamio run"})
    assert answer["ok"] and answer["status"] == 200  # Bolt checked the signature
    state = await tiny.state()
    [message] = state["messages"][CHANNEL]
    assert message["blocks"][0]["type"] == "header"
    assert [e["text"] for e in state["ephemerals"]] == ["Working on `run`…"]  # the ack, shown to the caller only
    assert (await tiny.state(VIEWER))["ephemerals"] == []

    # A long-poll waits for the next change and answers as soon as the click changed the message.
    waiting = asyncio.ensure_future(tiny.state(since=state["version"]))
    await until(lambda: tiny.page.feed.listening, what="the page's long-poll is being held by the server")
    assert not waiting.done()
    values = {"choice": {"pick": {"type": "radio_buttons", "selected_option": option("b")}}}
    clicked = await tiny.post("sandbox/action", {
        "user": ADMIN, "surface": {"kind": "message", "channel": CHANNEL, "ts": message["ts"]},
        "action": {"type": "button", "action_id": "approve", "block_id": "buttons", "value": "card-1"}, "state": values,
    })
    assert clicked["ok"]
    updated = await asyncio.wait_for(waiting, 5)
    assert updated["version"] > state["version"]
    [message] = updated["messages"][CHANNEL]
    assert message["text"] == "Approved by <@U0ADMIN>: option b, card-1" and message["edited"]

    # A modal: suggestions from the app while typing, field errors from the ack, then a clean submit.
    await tiny.post("sandbox/command", {"user": ADMIN, "channel": CHANNEL, "text": "/tamio form"})
    modal = (await tiny.state())["modal"]
    assert modal["title"]["text"] == "Tiny form"
    assert (await tiny.state(VIEWER))["modal"] is None
    suggested = await tiny.post("sandbox/suggest", {"user": ADMIN, "view_id": modal["id"], "block_id": "who",
                                                    "action_id": "who", "value": "Print Shop"})
    assert [o["value"] for o in suggested["options"]] == ["new:Print Shop"]
    who = {"type": "external_select", "selected_option": suggested["options"][0]}
    wrong = await tiny.post("sandbox/submit", {"user": ADMIN, "view_id": modal["id"], "state": {
        "who": {"who": who}, "amount": {"amount": {"type": "plain_text_input", "value": "12,00.5"}}}})
    assert wrong["errors"] == {"amount": "Write '12,00.5' in digits, like 1200."}
    assert (await tiny.state())["modal"]["id"] == modal["id"]  # still open
    right = await tiny.post("sandbox/submit", {"user": ADMIN, "view_id": modal["id"], "state": {
        "who": {"who": who}, "amount": {"amount": {"type": "plain_text_input", "value": "1200"}}}})
    assert right["ok"] and right["errors"] is None
    state = await tiny.state()
    assert state["modal"] is None and state["messages"][CHANNEL][-1]["text"] == "Saved new:Print Shop for 1200"

    # Someone else's modal, an unknown member, a malformed action: refused by the page, nothing sent.
    assert (await tiny.post("sandbox/submit", {"user": VIEWER, "view_id": modal["id"], "state": {}}))["status"] == 400
    assert (await tiny.post("sandbox/command", {"user": "U0NOBODY", "channel": CHANNEL, "text": "/tamio"}))["status"] == 400
    assert (await tiny.post("sandbox/action", {"user": ADMIN, "surface": {"kind": "message"}, "action": {}}))["status"] == 400
    unknown = await tiny.post("sandbox/command", {"user": ADMIN, "channel": CHANNEL, "text": "/giphy cats"})
    assert not unknown["ok"] and "not a valid command" in unknown["error"]


async def test_typed_commands_reach_the_app_escaped_as_slack_escapes_them(tiny: Tiny) -> None:
    typed = "/tamio role @Maria @nobody ap@maria.example Harbor & Pine <b>"
    assert (await tiny.post("sandbox/command", {"user": ADMIN, "channel": CHANNEL, "text": typed}))["ok"]
    [ack] = (await tiny.state())["ephemerals"]
    # should_escape (manifest.yml): a member's @handle is their mention; &, < and > are entities.
    assert ack["text"] == "Working on `role <@U0ADMIN|maria> @nobody ap@maria.example Harbor &amp; Pine &lt;b&gt;`…"


async def test_the_app_refuses_a_page_that_signs_with_the_wrong_secret() -> None:
    async for tiny in start_tiny(secret_the_page_uses="not-the-secret"):
        answer = await tiny.post("sandbox/command", {"user": ADMIN, "channel": CHANNEL, "text": "/tamio run"})
        assert answer["status"] == 401 and not answer["ok"]
        assert (await tiny.state())["messages"][CHANNEL] == []


async def test_the_mailbox_keeps_what_the_app_sends_over_smtp() -> None:
    changes: list[int] = []
    mailbox = Mailbox(on_change=lambda: changes.append(1))
    await mailbox.start()
    try:
        from email.message import EmailMessage

        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = "tamio@localhost", "ap@bluebird.example", "Invoice 7 Nov: 21 days overdue"
        email.set_content("Hi Jonah,\n.\n..a line with dots\nMüller Möbel")
        await aiosmtplib.send(email, hostname="127.0.0.1", port=mailbox.port, start_tls=False)
    finally:
        await mailbox.stop()
    [mail] = mailbox.mails
    assert mail.recipients == ("ap@bluebird.example",) and mail.subject == "Invoice 7 Nov: 21 days overdue"
    assert mail.body == "Hi Jonah,\n.\n..a line with dots\nMüller Möbel" and changes == [1]


@pytest.mark.e2e
async def test_the_page_renders_block_kit_like_slack_and_sends_what_slack_sends(
    tiny: Tiny, chromium: str, screenshots: Path
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(tiny.url + "?as=U0ADMIN")
        await page.locator("#composer").fill("/tamio run")
        await page.locator("#composer").press("Enter")
        message = page.locator("article.message:not(.ephemeral)").first
        await expect(message.locator(".bk-header")).to_have_text("Pay <Cloud Host> & co #1 \u26a0\ufe0f")
        await expect(page.locator("article.ephemeral")).to_contain_text("Only visible to you")
        await expect(page.locator("article.ephemeral code")).to_have_text("run")

        text = message.locator(".bk-section-text").first
        await expect(text.locator("b")).to_have_text("Bold")
        await expect(text.locator("i")).to_have_text("leaning")
        await expect(text.locator("s")).to_have_text("gone")
        await expect(text.locator("code")).to_have_text("a_code")
        await expect(text.locator("a")).to_have_attribute("href", "https://example.com/a?b=1&c=2")
        await expect(text.locator(".mention")).to_have_text("@Maria Lopez")
        await expect(text.locator("time")).to_have_text("2026-12-11")
        await expect(text).to_contain_text("<script>alert(1)</script> snake_case_name")
        assert await page.locator("script:not([src]):not([type])").count() == 0
        assert await page.evaluate("() => document.querySelectorAll('.messages script, .messages img[onerror]').length") == 0

        # Radio button B, then Approve: the app gets state.values with B and updates the message in place.
        await message.get_by_text("Option B").click()
        await message.get_by_role("button", name="Approve").click()
        await expect(message).to_contain_text("Approved by @Maria Lopez: option b, card-1")
        await expect(message.locator(".edited")).to_have_text("(edited)")
        await page.screenshot(path=str(screenshots / "01-approved-in-place.png"))

        # A confirm dialog comes before a danger button's click is sent; "Keep" sends nothing.
        await page.locator("#composer").fill("/tamio again")
        await page.locator("#composer").press("Enter")
        second = page.locator("article.message:not(.ephemeral)").nth(1)
        await second.get_by_role("button", name="Skip").click()
        confirm = page.get_by_role("alertdialog", name="Skip it?")
        await confirm.get_by_role("button", name="Keep").click()
        await expect(confirm).to_have_count(0)
        await second.get_by_role("button", name="Skip").click()
        await page.get_by_role("alertdialog", name="Skip it?").get_by_role("button", name="Skip it").click()
        await expect(page.locator("article.ephemeral", has_text="Skipped, as you asked.")).to_have_count(1)

        # The modal: Slack's own required-field check, the app's suggestions, its field error, a clean submit.
        await page.locator("#composer").fill("/tamio form")
        await page.locator("#composer").press("Enter")
        modal = page.get_by_role("dialog", name="Tiny form")
        await modal.get_by_role("button", name="Save").click()
        await expect(modal.locator(".bk-error")).to_have_count(2)
        await modal.locator("[data-block-id=who] input").fill("Print Shop")
        await modal.locator(".bk-suggestion", has_text="New: Print Shop").click()
        await modal.locator("[data-block-id=amount] input").fill("12,00.5")
        await modal.get_by_role("button", name="Save").click()
        await expect(modal.locator("[data-block-id=amount] .bk-error")).to_have_text("\u26a0 Write '12,00.5' in digits, like 1200.")
        await expect(modal.locator("[data-block-id=who] .bk-error")).to_have_count(0)
        await page.screenshot(path=str(screenshots / "02-field-error.png"))
        await modal.locator("[data-block-id=amount] input").fill("1200")
        await modal.get_by_role("button", name="Save").click()
        await expect(modal).to_have_count(0)
        await expect(page.locator("article.message", has_text="Saved new:Print Shop for 1200")).to_have_count(1)

        # Another member sees the channel but not the first one's ephemerals.
        await page.locator("#member").select_option(VIEWER)
        await expect(page.locator("article.message", has_text="Saved new:Print Shop")).to_have_count(1)
        await expect(page.locator("article.ephemeral")).to_have_count(0)

        assert not errors and not dialogs, (errors, dialogs)
        sent = [json.loads(params["blocks"]) if isinstance(params.get("blocks"), str) else params.get("blocks")
                for name, params in tiny.slack.calls if name == "chat.update"]
        assert len(sent) == 1
        await browser.close()
