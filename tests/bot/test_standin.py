"""The local Slack stand-in, driven by slack_sdk's real AsyncWebClient and by a real Bolt app.

Every test talks HTTP to a server on 127.0.0.1; nothing is mocked. What the stand-in promises is
what Slack does: the shapes slack_sdk parses, the refusals (tokens, Block Kit limits, trigger ids),
and the failures a reliable outbox must survive (429, 5xx, a post applied but never answered).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from slack_sandbox import SlackSender, SlackStandIn

SECRET = "signing-secret-for-tests"
USERS: dict[str, dict[str, Any]] = {
    "U1": {"name": "maria", "real_name": "Maria Lopez", "is_admin": True, "tz": "Europe/Madrid"},
    "U2": {"name": "sam", "real_name": "Sam Lee", "tz": "America/New_York"},
}
MODAL = {
    "type": "modal",
    "callback_id": "edit_amount",
    "title": {"type": "plain_text", "text": "Edit amount"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "amount",
            "label": {"type": "plain_text", "text": "Amount"},
            "element": {"type": "plain_text_input", "action_id": "amount_input"},
        }
    ],
}
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Cash $48,250"}}]}
CARD: list[dict[str, Any]] = [
    {"type": "section", "block_id": "risk", "text": {"type": "mrkdwn", "text": "Payroll on Fri 11 Dec is at risk"}},
    {"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "a1"},
    ]},
]  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_765_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn(users=USERS, clock=clock, channels={"C1": "finance", "C2": "ops"}) as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


async def slack_error(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        await call
    data: dict[str, Any] = raised.value.response.data
    return data


# -- messages ------------------------------------------------------------------------------------


async def test_post_update_ephemeral_and_delete_keep_the_channel_as_slack_would(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="Payroll at risk", blocks=CARD)
    assert posted["channel"] == "C1" and posted["message"]["text"] == "Payroll at risk"
    await client.chat_update(channel="C1", ts=posted["ts"], text="Approved by maria")
    [message] = slack.messages("C1")
    assert (message["ts"], message["text"], message["blocks"]) == (posted["ts"], "Approved by maria", CARD)
    await client.chat_update(channel="C1", ts=posted["ts"], text="Done", blocks=[])
    assert slack.messages("C1")[0]["blocks"] == []

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U2", text="Only approvers can decide")
    assert slack.ephemerals == [
        {"ts": ephemeral["message_ts"], "channel": "C1", "user": "U2", "text": "Only approvers can decide",
         "blocks": [], "thread_ts": None},
    ]  # fmt: skip
    link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
    assert link["permalink"].endswith(f"/archives/C1/p{posted['ts'].replace('.', '')}")

    dm = await client.conversations_open(users="U1")
    await client.chat_postMessage(channel="U1", text="Your digest")  # a user id posts to the DM
    assert [m["text"] for m in slack.messages(dm["channel"]["id"])] == ["Your digest"]

    await client.chat_delete(channel="C1", ts=posted["ts"])
    assert slack.messages("C1") == []
    assert (await slack_error(client.chat_update(channel="C1", ts=posted["ts"], text="x")))["error"] == (
        "message_not_found"
    )
    assert [name for name, _ in slack.calls][:3] == ["chat.postMessage", "chat.update", "chat.update"]


async def test_history_returns_metadata_only_when_asked_newest_first(
    slack: SlackStandIn, client: AsyncWebClient, clock: FakeClock
) -> None:
    metadata = {"event_type": "tamio_card", "event_payload": {"alert_id": "42"}}
    first = await client.chat_postMessage(channel="C1", text="card", metadata=metadata)
    clock.now += 60
    second = await client.chat_postMessage(channel="C1", text="digest")
    await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])

    history = await client.conversations_history(channel="C1", include_all_metadata=True, limit=10)
    assert [m["text"] for m in history["messages"]] == ["digest", "card"]  # thread replies stay in the thread
    assert history["messages"][1]["metadata"] == metadata
    plain = await client.conversations_history(channel="C1")
    assert "metadata" not in plain["messages"][1]
    recent = await client.conversations_history(channel="C1", oldest=first["ts"], include_all_metadata=True)
    assert [m["ts"] for m in recent["messages"]] == [second["ts"]]
    assert slack.messages("C1")[0]["metadata"] == metadata


async def test_users_info_is_a_get_and_knows_the_workspace(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    user = (await client.users_info(user="U1"))["user"]
    assert (user["name"], user["real_name"], user["is_admin"], user["tz"]) == (
        "maria",
        "Maria Lopez",
        True,
        "Europe/Madrid",
    )
    assert user["tz_offset"] == 3600  # Madrid in December
    assert (await slack_error(client.users_info(user="U404")))["error"] == "user_not_found"
    assert await client.auth_test() and slack.calls[0][0] == "users.info"


async def test_tokens_are_checked(slack: SlackStandIn) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    assert (await slack_error(wrong.chat_postMessage(channel="C1", text="hi")))["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=slack.api_url)
    assert (await slack_error(anonymous.auth_test()))["error"] == "not_authed"
    assert slack.messages("C1") == []


async def test_json_form_and_query_string_are_all_accepted(slack: SlackStandIn) -> None:
    url, blocks = slack.api_url + "chat.postMessage", json.dumps(CARD)
    async with aiohttp.ClientSession() as http:
        form = {"token": slack.bot_token, "channel": "C1", "text": "form", "blocks": blocks}
        async with http.post(url, data=form) as response:
            assert (await response.json())["ok"]
        query = {
            "channel": "C1",
            "text": "query",
            "metadata": json.dumps({"event_type": "t", "event_payload": {}}),
        }
        async with http.post(
            url, params=query, headers={"Authorization": f"Bearer {slack.bot_token}"}
        ) as response:
            assert (await response.json())["ok"]
        async with http.post(
            url, data={"token": slack.bot_token, "channel": "C1", "blocks": "[{"}
        ) as response:
            assert await response.json() == {"ok": False, "error": "invalid_blocks_format"}
    assert [(m["text"], m["blocks"]) for m in slack.messages("C1")] == [("form", CARD), ("query", [])]
    assert "token" not in slack.calls[0][1]


# -- views -------------------------------------------------------------------------------------


async def test_views_open_takes_a_fresh_trigger_once(
    slack: SlackStandIn, client: AsyncWebClient, clock: FakeClock
) -> None:
    trigger = slack.new_trigger_id("U1")
    view = (await client.views_open(trigger_id=trigger, view=MODAL))["view"]
    assert slack.views[view["id"]]["callback_id"] == "edit_amount" and view["root_view_id"] == view["id"]
    assert (await slack_error(client.views_open(trigger_id=trigger, view=MODAL)))[
        "error"
    ] == "exchanged_trigger_id"
    assert (await slack_error(client.views_open(trigger_id="1.2.abc", view=MODAL)))[
        "error"
    ] == "invalid_trigger_id"
    late = slack.new_trigger_id("U1")
    clock.now += 3.5
    assert (await slack_error(client.views_open(trigger_id=late, view=MODAL)))[
        "error"
    ] == "expired_trigger_id"

    updated = await client.views_update(
        view_id=view["id"], hash=view["hash"], view={**MODAL, "private_metadata": "a"}
    )
    assert slack.views[view["id"]]["private_metadata"] == "a"
    stale = client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert (await slack_error(stale))["error"] == "hash_conflict" and updated["view"]["hash"] != view["hash"]


async def test_views_publish_sets_the_home_tab(slack: SlackStandIn, client: AsyncWebClient) -> None:
    await client.views_publish(user_id="U1", view=HOME)
    assert slack.home_views["U1"]["blocks"] == HOME["blocks"]
    refused = await slack_error(client.views_publish(user_id="U1", view=MODAL))
    assert refused["error"] == "invalid_arguments"


# -- files -------------------------------------------------------------------------------------


async def test_files_upload_v2_end_to_end(slack: SlackStandIn, client: AsyncWebClient) -> None:
    chart = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    done = await client.files_upload_v2(
        channel="C1", content=chart, filename="forecast.png", title="Forecast", initial_comment="13 weeks"
    )
    file_id = done["file"]["id"]
    assert slack.uploads[file_id].content == chart
    [message] = slack.messages("C1")
    assert message["text"] == "13 weeks" and message["files"][0]["id"] == file_id
    url = message["files"][0]["url_private"]
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {slack.bot_token}"}) as response:
            assert (response.status, response.content_type, await response.read()) == (
                200,
                "image/png",
                chart,
            )
        async with http.get(url) as response:
            assert response.status == 403  # url_private needs the token, as in Slack
    assert [name for name, _ in slack.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


# -- Block Kit limits --------------------------------------------------------------------------


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _button(action_id: str, text: str = "Go", value: str = "v") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": _plain(text), "value": value}


def _actions(*elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "actions", "elements": list(elements)}]


MESSAGE_LIMITS: list[tuple[str, int, Callable[[int], list[dict[str, Any]]], str]] = [
    ("blocks per message", 50, lambda n: [{"type": "divider"}] * n, "/blocks"),
    ("section text", 3000, lambda n: [{"type": "section", "text": _mrkdwn("x" * n)}], "/blocks/0/text/text"),
    ("section fields", 10, lambda n: [{"type": "section", "fields": [_mrkdwn("f")] * n}], "/blocks/0/fields"),
    ("section field", 2000, lambda n: [{"type": "section", "fields": [_mrkdwn("f" * n)]}], "/blocks/0/fields/0/text"),
    ("header", 150, lambda n: [{"type": "header", "text": _plain("h" * n)}], "/blocks/0/text/text"),
    ("actions elements", 25, lambda n: _actions(*[_button(f"a{i}") for i in range(n)]), "/blocks/0/elements"),
    ("context elements", 10, lambda n: [{"type": "context", "elements": [_mrkdwn("c")] * n}], "/blocks/0/elements"),
    ("button text", 75, lambda n: _actions(_button("a", text="b" * n)), "/blocks/0/elements/0/text/text"),
    ("button value", 2000, lambda n: _actions(_button("a", value="v" * n)), "/blocks/0/elements/0/value"),
    ("radio options", 10, lambda n: _actions({"type": "radio_buttons", "action_id": "r", "options": [
        {"text": _plain(f"option {i}"), "value": str(i)} for i in range(n)]}), "/blocks/0/elements/0/options"),
    ("block_id", 255, lambda n: [{"type": "divider", "block_id": "b" * n}], "/blocks/0/block_id"),
    ("action_id", 255, lambda n: _actions(_button("a" * n)), "/blocks/0/elements/0/action_id"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, limit, build, pointer", MESSAGE_LIMITS, ids=[case[0] for case in MESSAGE_LIMITS]
)
async def test_message_blocks_at_the_limit_pass_and_past_it_are_refused(
    slack: SlackStandIn, client: AsyncWebClient, name: str, limit: int, build: Any, pointer: str
) -> None:
    await client.chat_postMessage(channel="C1", text=name, blocks=build(limit))
    refused = await slack_error(client.chat_postMessage(channel="C1", text=name, blocks=build(limit + 1)))
    assert refused["error"] == "invalid_blocks"
    assert any(error.endswith(f"[json-pointer:{pointer}]") for error in refused["errors"]), refused["errors"]
    assert len(slack.messages("C1")) == 1


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}],
        _actions(_button("approve"), _button("approve")),
        [{"type": "table_of_contents"}],
        [{"type": "section", "text": {"type": "markdown", "text": "x"}}],
    ],
    ids=["duplicate block_id", "duplicate action_id in a block", "unknown block type", "unknown text type"],
)
async def test_malformed_blocks_are_refused(client: AsyncWebClient, blocks: list[dict[str, Any]]) -> None:
    assert (await slack_error(client.chat_postMessage(channel="C1", text="x", blocks=blocks)))["error"] == (
        "invalid_blocks"
    )


async def test_the_same_action_id_on_two_cards_is_allowed_and_long_text_is_not(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C1", text="two cards", blocks=_actions(_button("approve")) * 2)
    await client.chat_postMessage(channel="C1", text="t" * 40_000)
    assert (await slack_error(client.chat_postMessage(channel="C1", text="t" * 40_001)))[
        "error"
    ] == "msg_too_long"
    posted = slack.messages("C1")[0]
    too_long = client.chat_update(
        channel="C1", ts=posted["ts"], text="h", blocks=[{"type": "header", "text": _plain("h" * 151)}]
    )
    assert (await slack_error(too_long))["error"] == "invalid_blocks"


VIEW_LIMITS: list[tuple[str, int, Callable[[int], dict[str, Any]], str]] = [
    ("modal blocks", 100, lambda n: {**MODAL, "blocks": [{"type": "divider"}] * n}, "/view/blocks"),
    ("modal title", 24, lambda n: {**MODAL, "title": _plain("t" * n)}, "/view/title/text"),
    ("modal submit", 24, lambda n: {**MODAL, "submit": _plain("s" * n)}, "/view/submit/text"),
    ("modal close", 24, lambda n: {**MODAL, "close": _plain("c" * n)}, "/view/close/text"),
    ("private_metadata", 3000, lambda n: {**MODAL, "private_metadata": "m" * n}, "/view/private_metadata"),
    ("home blocks", 100, lambda n: {**HOME, "blocks": [{"type": "divider"}] * n}, "/view/blocks"),
]


@pytest.mark.parametrize("name, limit, build, pointer", VIEW_LIMITS, ids=[case[0] for case in VIEW_LIMITS])
async def test_views_at_the_limit_pass_and_past_it_are_refused(
    slack: SlackStandIn, client: AsyncWebClient, name: str, limit: int, build: Any, pointer: str
) -> None:
    async def show(view: dict[str, Any]) -> Any:
        if view["type"] == "home":
            return await client.views_publish(user_id="U1", view=view)
        return await client.views_open(trigger_id=slack.new_trigger_id("U1"), view=view)

    await show(build(limit))
    refused = await slack_error(show(build(limit + 1)))
    assert refused["error"] == "invalid_arguments"
    assert any(error.endswith(f"[json-pointer:{pointer}]") for error in refused["errors"]), refused["errors"]


# -- response_url ------------------------------------------------------------------------------


async def test_response_urls_are_applied_like_slack(slack: SlackStandIn, client: AsyncWebClient) -> None:
    card = await client.chat_postMessage(channel="C1", text="Payroll at risk", blocks=CARD)
    async with aiohttp.ClientSession() as http:

        async def respond(payload: dict[str, Any], message_ts: str | None = None) -> int:
            async with http.post(slack.new_response_url("C1", "U1", message_ts), json=payload) as response:
                return response.status

        assert await respond({"text": "Only you see this"}) == 200
        assert await respond({"response_type": "in_channel", "text": "Shared forecast"}) == 200
        assert await respond({"replace_original": True, "text": "Approved by maria"}, card["ts"]) == 200
        assert await respond({"text": "x", "blocks": [{"type": "header", "text": _plain("h" * 151)}]}) == 400
        assert [e["text"] for e in slack.ephemerals] == ["Only you see this"]
        assert [(m["text"], m["blocks"]) for m in slack.messages("C1")] == [
            ("Approved by maria", []),
            ("Shared forecast", []),
        ]
        assert await respond({"delete_original": True}, card["ts"]) == 200
        assert [m["text"] for m in slack.messages("C1")] == ["Shared forecast"]
        async with http.post(slack.base_url + "response/unknown", json={"text": "x"}) as response:
            assert response.status == 404


# -- failures on purpose -----------------------------------------------------------------------


async def test_a_429_carries_retry_after_and_a_retrying_client_gets_through(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.fail_next(1, status=429, retry_after=1)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="digest")
    assert raised.value.response.status_code == 429
    assert (
        raised.value.response.headers["Retry-After"] == "1"
        and raised.value.response["error"] == "ratelimited"
    )
    assert slack.messages("C1") == []

    slack.fail_next(1, status=429, retry_after=0)
    patient = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url,
                             retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])  # fmt: skip
    await patient.chat_postMessage(channel="C1", text="digest")
    assert [m["text"] for m in slack.messages("C1")] == ["digest"]
    slack.fail_next(1, status=500)
    assert (await slack_error(client.chat_postMessage(channel="C1", text="again")))[
        "error"
    ] == "internal_error"
    assert slack.failures == [
        ("chat.postMessage", "429"),
        ("chat.postMessage", "429"),
        ("chat.postMessage", "500"),
    ]


async def test_a_drop_posts_the_message_but_the_client_sees_a_network_error(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.fail_next(1, status="drop", method="chat.postMessage")
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.chat_postMessage(channel="C1", text="Payroll at risk")
    assert [m["text"] for m in slack.messages("C1")] == ["Payroll at risk"]

    slack.fail_next(1, status="drop")
    naive = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)  # retries connection errors once
    await naive.chat_postMessage(channel="C2", text="Payroll at risk")
    assert len(slack.messages("C2")) == 2  # why the outbox must check history before re-posting


async def test_failure_rate_is_reproducible_and_only_drops_leave_a_trace(slack: SlackStandIn) -> None:
    outcomes: list[list[str]] = []
    for _ in range(2):
        async with SlackStandIn(channels={"C1": "finance"}) as flaky:
            flaky.failure_rate(0.5, seed=11)
            client = AsyncWebClient(token=flaky.bot_token, base_url=flaky.api_url, retry_handlers=[])
            seen = []
            for index in range(20):
                try:
                    await client.chat_postMessage(channel="C1", text=str(index))
                    seen.append("ok")
                except SlackApiError as error:
                    seen.append(str(error.response.status_code))
                except aiohttp.ClientConnectionError:
                    seen.append("drop")
            assert len(flaky.messages("C1")) == seen.count("ok") + seen.count("drop")
            assert [kind for _, kind in flaky.failures] == [s for s in seen if s != "ok"]
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1] and {"ok", "429", "500", "drop"} <= set(outcomes[0])


# -- OAuth -------------------------------------------------------------------------------------


async def test_oauth_install_redirects_with_a_code_exchanged_once(slack: SlackStandIn) -> None:
    authorize = f"{slack.base_url}oauth/v2/authorize?client_id={slack.client_id}&scope=chat:write&state=s1&redirect_uri=http://127.0.0.1:9/done"
    async with aiohttp.ClientSession() as http, http.get(authorize, allow_redirects=False) as response:
        location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert (response.status, location.path, query["state"]) == (302, "/done", ["s1"])
    client = AsyncWebClient(base_url=slack.api_url)
    installed = await client.oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret, code=query["code"][0]
    )
    assert (installed["team"]["id"], installed["bot_user_id"], installed["authed_user"]["id"]) == (
        "T0001",
        "U0BOT",
        "U1",
    )
    assert installed["access_token"] == slack.bot_token and installed["enterprise"] is None
    again = client.oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret, code=query["code"][0]
    )
    assert (await slack_error(again))["error"] == "invalid_code"


# -- signed requests to the app ----------------------------------------------------------------


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """A plain server that keeps each raw body and its headers, to check what the sender signs."""
    received: list[tuple[bytes, dict[str, str]]] = []

    async def keep(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", keep)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/slack/events", received
    await runner.cleanup()


async def test_sender_signs_the_exact_raw_body_with_slacks_field_names(
    slack: SlackStandIn, recorder: tuple[str, list[tuple[bytes, dict[str, str]]]], clock: FakeClock
) -> None:
    url, received = recorder
    sender = SlackSender(url, SECRET, "T0001", slack, clock=clock)
    await sender.slash_command("U1", "forecast", "C1")
    await sender.slash_command("U1", "forecast", "C1", bad_signature=True)
    await sender.slash_command("U1", "forecast", "C1", timestamp=int(clock()) - 301)
    await sender.event({"type": "app_home_opened", "user": "U1", "tab": "home"}, event_id="Ev1", retry_num=1)

    class SameClock(Clock):
        def now(self) -> float:
            return clock()

    verifier = SignatureVerifier(SECRET, clock=SameClock())
    assert [verifier.is_valid_request(body, headers) for body, headers in received] == [
        True,
        False,
        False,
        True,
    ]

    command = {key: values[0] for key, values in parse_qs(received[0][0].decode()).items()}
    assert {"team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name", "command", "text",
            "response_url", "trigger_id", "api_app_id"} <= set(command)  # fmt: skip
    assert (command["user_name"], command["command"], command["text"]) == ("maria", "/tamio", "forecast")
    assert command["response_url"].startswith(slack.base_url + "response/")
    event_body, event_headers = received[3]
    envelope = json.loads(event_body)
    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == ("event_callback", "Ev1", "T0001")
    assert event_headers["X-Slack-Retry-Num"] == "1"


def bolt_app(slack: SlackStandIn) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.command("/tamio")
    async def tamio(ack: Any, respond: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack("Working on it")
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond("Forecast ready")

    @app.action("approve")
    async def approve(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        await ack()
        await respond(replace_original=True, text=f"Approved by {body['user']['username']}")

    @app.view("edit_amount")
    async def edit(ack: Any, view: dict[str, Any]) -> None:
        if not view["state"]["values"]["amount"]["amount_input"]["value"]:
            await ack(response_action="errors", errors={"amount": "Write an amount like 1200"})
        else:
            await ack()

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view=HOME)

    return app


async def test_a_real_bolt_app_round_trip_through_sender_and_stand_in(slack: SlackStandIn) -> None:
    runner = web.AppRunner(bolt_app(slack).web_app(path="/slack/events", port=0), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        sender = SlackSender(f"http://{host}:{port}/slack/events", SECRET, "T0001", slack)

        reply = await sender.slash_command("U1", "forecast", "C1")
        assert reply.status == 200 and reply.body == "Working on it"
        assert sorted(e["text"] for e in slack.ephemerals) == ["Forecast ready", "Working on it"]
        [view_id] = slack.views

        card = await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
            channel="C1", text="Payroll at risk", blocks=CARD
        )
        reply = await sender.block_action("U1", "C1", card["ts"], [{"action_id": "approve"}])
        assert reply.status == 200 and slack.messages("C1")[0]["text"] == "Approved by maria"

        empty = {
            "id": view_id,
            "state": {"values": {"amount": {"amount_input": {"type": "plain_text_input", "value": ""}}}},
        }
        refused = await sender.view_submission("U1", empty)
        assert refused.json() == {
            "response_action": "errors",
            "errors": {"amount": "Write an amount like 1200"},
        }
        assert slack.workspace.view_store.view_stacks[view_id] == [view_id]  # still open, showing the error
        filled = {
            "id": view_id,
            "state": {"values": {"amount": {"amount_input": {"type": "plain_text_input", "value": "1200"}}}},
        }
        assert (await sender.view_submission("U1", filled)).status == 200
        assert slack.workspace.view_store.view_stacks[view_id] == []  # closed

        assert (await sender.app_home_opened("U1")).status == 200 and slack.home_views["U1"]["type"] == "home"
        assert (await sender.slash_command("U1", "forecast", "C1", bad_signature=True)).status == 401
    finally:
        await runner.cleanup()
