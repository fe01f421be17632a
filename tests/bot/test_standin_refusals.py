"""The stand-in refuses what Slack refuses: channels the app is not in, scopes it was not granted,
files still being processed, used-up response URLs, rate limits, expired and revoked tokens.

Each refusal is what a real workspace answered (Slack's error codes and shapes); the app's tests
run against these, so an app that would break in a real workspace breaks here first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from slack_sandbox import SlackSender, SlackStandIn
from slack_sandbox.rate_limits import RateLimits

USERS: dict[str, dict[str, Any]] = {
    "U1": {"name": "maria", "is_admin": True, "email": "maria@acme.example"},
    "U2": {"name": "sam", "email": "sam@acme.example"},
    "U3": {"name": "lee"},
}
SCOPES = "commands,chat:write,chat:write.public,im:write,files:write,users:read"
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


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
    async with SlackStandIn(users=USERS, clock=clock, bot_scopes=SCOPES, channels={"C1": "finance"}) as standin:
        standin.add_channel("C2", "general", bot=False)  # public, the app not in it
        standin.add_channel("C3", "board", private=True, members=("U1",), bot=False)
        standin.add_channel("C4", "payroll", private=True, members=("U1", "U2"))  # private, the app invited
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


async def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        await call
    data: dict[str, Any] = raised.value.response.data
    return data


async def error_of(call: Any) -> str:
    return str((await refused(call))["error"])


# -- conversations ---------------------------------------------------------------------------------


async def test_public_channels_take_posts_with_chat_write_public_and_nothing_else_until_the_app_joins(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C2", text="Cash is fine")  # chat:write.public
    await client.chat_update(channel="C2", ts=posted["ts"], text="Cash is fine today")
    assert await error_of(client.chat_postEphemeral(channel="C2", user="U1", text="x")) == "not_in_channel"
    assert await error_of(client.files_upload_v2(channel="C2", content=PNG, filename="chart.png")) == "not_in_channel"
    slack.withhold_scope("chat:write.public")
    assert await error_of(client.chat_postMessage(channel="C2", text="x")) == "not_in_channel"

    assert (await refused(client.conversations_join(channel="C2"))) == {
        "ok": False, "error": "missing_scope", "needed": "channels:join", "provided": ",".join(slack.scopes_of()),
    }  # fmt: skip
    slack.grant_scope("channels:join")
    joined = await client.conversations_join(channel="C2")
    assert joined["channel"]["is_member"] and "warning" not in joined.data
    assert (await client.conversations_join(channel="C2"))["warning"] == "already_in_channel"
    await client.chat_postEphemeral(channel="C2", user="U1", text="now I can")
    await client.chat_postMessage(channel="C2", text="and post without chat:write.public")


async def test_private_channels_and_other_peoples_dms_are_invisible_to_the_app(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.grant_scope("channels:join")
    dm, group = slack.add_dm("U1", "U2"), slack.add_dm("U1", "U2", "U3")
    for channel in ("C3", dm, group, "C404"):
        assert await error_of(client.chat_postMessage(channel=channel, text="x")) == "channel_not_found", channel
        assert await error_of(client.conversations_join(channel=channel)) == "channel_not_found", channel
    assert await error_of(client.conversations_join(channel="C4")) == "method_not_supported_for_channel_type"
    await client.chat_postMessage(channel="C4", text="invited, so it may post")
    assert await error_of(client.chat_postEphemeral(channel="C4", user="U3", text="x")) == "user_not_in_channel"

    own = await client.conversations_open(users="U1")
    await client.chat_postMessage(channel=own["channel"]["id"], text="the app's own DM works")
    slack.remove_app_from("C1")
    assert await error_of(client.chat_postEphemeral(channel="C1", user="U1", text="x")) == "not_in_channel"
    slack.archive("C4")
    assert await error_of(client.chat_postMessage(channel="C4", text="x")) == "is_archived"


async def test_history_needs_its_scope_per_kind_of_conversation_and_membership(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    needed = await refused(client.conversations_history(channel="C1"))
    assert (needed["error"], needed["needed"]) == ("missing_scope", "channels:history")
    assert (await refused(client.conversations_history(channel="C4")))["needed"] == "groups:history"
    slack.grant_scope("channels:history")
    assert (await client.conversations_history(channel="C1"))["messages"] == []
    assert await error_of(client.conversations_history(channel="C2")) == "not_in_channel"


async def test_slash_commands_name_private_channels_and_dms_like_slack(slack: SlackStandIn) -> None:
    received: list[dict[str, str]] = []

    async def keep(request: web.Request) -> web.Response:
        received.append({k: v[0] for k, v in parse_qs((await request.read()).decode()).items()})
        return web.Response(text="")

    async with serve(keep) as url:
        sender = SlackSender(url, "secret", "T0001", slack)
        for channel in ("C1", "C3", slack.add_dm("U1", "U2"), slack.add_dm("U1", "U2", "U3")):
            await sender.slash_command("U1", "digest here", channel)
    assert [r["channel_name"] for r in received][:3] == ["finance", "privategroup", "directmessage"]
    assert received[3]["channel_name"].startswith("mpdm-")


# -- scopes and users -------------------------------------------------------------------------------


async def test_users_info_shows_emails_only_with_users_read_email(slack: SlackStandIn, client: AsyncWebClient) -> None:
    assert "email" not in (await client.users_info(user="U1"))["user"]["profile"]
    slack.grant_scope("users:read.email")
    user = (await client.users_info(user="U1", include_locale=True))["user"]
    assert user["profile"]["email"] == "maria@acme.example" and user["locale"] == "en-US"
    slack.withhold_scope("users:read")
    assert (await refused(client.users_info(user="U1")))["needed"] == "users:read"


# -- files ---------------------------------------------------------------------------------------


async def test_an_uploaded_image_may_be_shown_only_once_slack_has_processed_it(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    uploaded = await client.files_upload_v2(channel="C1", content=PNG, filename="chart.png", title="Chart")
    file_id = uploaded["file"]["id"]
    image = [{"type": "image", "slack_file": {"id": file_id}, "alt_text": "chart"}]
    early = await refused(client.chat_postMessage(channel="C1", text="chart", blocks=image))
    assert early["errors"] == ["invalid slack file [json-pointer:/blocks/0/slack_file]"]

    assert (await refused(client.files_info(file=file_id)))["needed"] == "files:read"
    slack.grant_scope("files:read")
    assert (await client.files_info(file=file_id))["file"]["mimetype"] == ""  # still processing
    assert (await client.files_info(file=file_id))["file"]["mimetype"] == "image/png"
    await client.chat_postMessage(channel="C1", text="chart", blocks=image)
    assert await error_of(client.files_info(file="F404")) == "file_not_found"


# -- response URLs ---------------------------------------------------------------------------------


async def test_a_response_url_works_five_times_within_thirty_minutes(slack: SlackStandIn, clock: FakeClock) -> None:
    url = slack.new_response_url("C1", "U1")
    webhook = AsyncWebhookClient(url)
    assert [(await webhook.send(text=f"reply {n}")).status_code for n in range(5)] == [200] * 5
    sixth = await webhook.send(text="once too often")
    assert (sixth.status_code, json.loads(sixth.body)["error"]) == (404, "used_url")
    late = AsyncWebhookClient(slack.new_response_url("C1", "U1"))
    clock.now += 30 * 60 + 1
    answer = await late.send(text="too late")
    assert (answer.status_code, json.loads(answer.body)["error"]) == (404, "expired_url")
    assert len(slack.ephemerals) == 5


# -- what Slack sends the app -------------------------------------------------------------------------


async def test_clicks_on_ephemeral_messages_come_without_the_message(slack: SlackStandIn, client: AsyncWebClient) -> None:
    received: list[dict[str, Any]] = []

    async def keep(request: web.Request) -> web.Response:
        received.append(json.loads(parse_qs((await request.read()).decode())["payload"][0]))
        return web.Response(text="")

    button = [{"type": "actions", "elements": [{"type": "button", "action_id": "share",
                                                "text": {"type": "plain_text", "text": "Share"}, "value": "13"}]}]
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="forecast", blocks=button)
    posted = await client.chat_postMessage(channel="C1", text="card", blocks=button)
    async with serve(keep) as url:
        sender = SlackSender(url, "secret", "T0001", slack)
        await sender.block_action("U1", "C1", ephemeral["message_ts"], [{"action_id": "share"}], is_ephemeral=True)
        await sender.block_action("U1", "C1", posted["ts"], [{"action_id": "share"}])
    on_ephemeral, on_message = received
    assert "message" not in on_ephemeral and on_ephemeral["container"]["is_ephemeral"] is True
    assert on_ephemeral["actions"][0]["value"] == "13" and on_ephemeral["response_url"]
    assert on_message["message"]["ts"] == posted["ts"]


async def test_a_submission_carries_response_urls_for_a_conversation_picked_with_response_url_enabled(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    received: list[dict[str, Any]] = []

    async def keep(request: web.Request) -> web.Response:
        received.append(json.loads(parse_qs((await request.read()).decode())["payload"][0]))
        return web.Response(text="")

    modal = {"type": "modal", "callback_id": "add", "title": {"type": "plain_text", "text": "Add"},
             "submit": {"type": "plain_text", "text": "Save"},
             "blocks": [{"type": "input", "block_id": "where", "label": {"type": "plain_text", "text": "Reply in"},
                         "element": {"type": "conversations_select", "action_id": "where", "response_url_enabled": True,
                                     "default_to_current_conversation": True}}]}
    view = (await client.views_open(trigger_id=slack.new_trigger_id("U1"), view=modal))["view"]
    picked = {"where": {"where": {"type": "conversations_select", "selected_conversation": "C2"}}}
    async with serve(keep) as url:
        await SlackSender(url, "secret", "T0001", slack).view_submission("U1", {"id": view["id"], "state": {"values": picked}})
    [response_url] = received[0]["response_urls"]
    assert (response_url["block_id"], response_url["channel_id"]) == ("where", "C2")
    assert (await AsyncWebhookClient(response_url["response_url"]).send(text="Added")).status_code == 200
    assert slack.ephemerals[-1]["channel"] == "C2"  # a response URL answers where the app is not a member


# -- rate limits and tokens --------------------------------------------------------------------------


async def test_past_a_methods_rate_limit_slack_answers_429_with_retry_after(clock: FakeClock) -> None:
    limits = RateLimits()
    limits.set("users.info", calls=2, per_s=60)
    limits.set("chat.postMessage", calls=2, per_s=2, per_channel=True)
    async with SlackStandIn(users=USERS, clock=clock, channels={"C1": "a", "C2": "b"}, rate_limits=limits) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
        await client.users_info(user="U1")
        clock.now += 20
        await client.users_info(user="U1")
        with pytest.raises(SlackApiError) as raised:
            await client.users_info(user="U1")
        answer = raised.value.response
        assert (answer.status_code, answer.headers["Retry-After"], answer["error"]) == (429, "40", "ratelimited")
        clock.now += 40
        await client.users_info(user="U1")

        for _ in range(2):
            await client.chat_postMessage(channel="C1", text="x")
        await client.chat_postMessage(channel="C2", text="another channel has its own allowance")
        assert await error_of(client.chat_postMessage(channel="C1", text="x")) == "ratelimited"
        assert [m for m, _ in limits.refused] == ["users.info", "chat.postMessage"]


async def test_rotating_tokens_expire_after_twelve_hours_and_refresh_once(clock: FakeClock) -> None:
    async with SlackStandIn(users=USERS, clock=clock, channels={"C1": "a"}, token_rotation=True) as slack:
        installer = AsyncWebClient(base_url=slack.api_url)
        code = slack.new_oauth_code("U1", scope=SCOPES)
        installed = await installer.oauth_v2_access(client_id=slack.client_id, client_secret=slack.client_secret, code=code)
        token, refresh = installed["access_token"], installed["refresh_token"]
        assert token.startswith("xoxe.xoxb-") and installed["expires_in"] == 43200
        bot = AsyncWebClient(token=token, base_url=slack.api_url, retry_handlers=[])
        await bot.chat_postMessage(channel="C1", text="fresh")
        clock.now += 43200
        assert await error_of(bot.chat_postMessage(channel="C1", text="x")) == "token_expired"
        renewed = await installer.oauth_v2_access(client_id=slack.client_id, client_secret=slack.client_secret,
                                                  grant_type="refresh_token", refresh_token=refresh)
        again = await refused(installer.oauth_v2_access(client_id=slack.client_id, client_secret=slack.client_secret,
                                                        grant_type="refresh_token", refresh_token=refresh))
        assert again["error"] == "invalid_refresh_token"
        await AsyncWebClient(token=renewed["access_token"], base_url=slack.api_url).chat_postMessage(channel="C1", text="ok")


async def test_an_uninstalled_app_and_revoked_tokens_are_refused(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.revoke_tokens()
    assert await error_of(client.auth_test()) == "token_revoked"
    slack.uninstall()
    assert await error_of(client.auth_test()) == "account_inactive"


async def test_an_org_wide_install_on_enterprise_grid(clock: FakeClock) -> None:
    async with SlackStandIn(users=USERS, clock=clock, enterprise=("E0ORG", "Acme Org")) as slack:
        code = slack.new_oauth_code("U1", scope=SCOPES, org_wide=True)
        installed = await AsyncWebClient(base_url=slack.api_url).oauth_v2_access(
            client_id=slack.client_id, client_secret=slack.client_secret, code=code)
        assert installed["is_enterprise_install"] is True and installed["team"] is None
        assert installed["enterprise"] == {"id": "E0ORG", "name": "Acme Org"}


class serve:
    """A plain aiohttp server on 127.0.0.1 with one POST route, for what the sender sends."""

    def __init__(self, handler: Any) -> None:
        self.app = web.Application()
        self.app.router.add_post("/slack/events", handler)
        self.runner = web.AppRunner(self.app, access_log=None)

    async def __aenter__(self) -> str:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        return f"http://{host}:{port}/slack/events"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


async def test_the_download_url_of_a_file_needs_a_token(slack: SlackStandIn, client: AsyncWebClient) -> None:
    uploaded = await client.files_upload_v2(channel="C1", content=PNG, filename="chart.png")
    async with aiohttp.ClientSession() as http, http.get(uploaded["file"]["url_private"]) as response:
        assert response.status == 403
