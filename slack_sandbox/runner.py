"""The sandbox of ``make run``: the Slack stand-in with its web page on 127.0.0.1:8080, pointed at the app.

It plays a Slack workspace: the people it is given (``SandboxConfig.people``; ``tamio sandbox``
passes the demo company's four), the ``#cash-flow`` channel with the app in it, the app's DM and
App Home. The app itself runs apart (``tamio serve``): its Web API calls go to ``sandbox.slack.api_url``,
its SMTP to the sandbox mailbox, and it shares the signing secret and bot token, so each request the
page sends is signed exactly as Slack signs it and the app checks it as usual. This package imports
nothing from the app: what the app needs to know about the sandbox, the caller tells it.

    people = (Person("U0ADMIN", "Maria Lopez", "admin"),)
    sandbox = Sandbox(SandboxConfig(app_url="http://127.0.0.1:3000/", signing_secret=secret, people=people))
    await sandbox.start()                       # sandbox.url == "http://127.0.0.1:8080/"
    ...
    await sandbox.stop()
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from slack_sandbox.page import SandboxPage, install_page
from slack_sandbox.page.feed import Layout, Person
from slack_sandbox.page.mailbox import Mailbox
from slack_sandbox.signed import SlackSender
from slack_sandbox.standin import DEFAULT_BOT_SCOPES, SlackStandIn

SANDBOX_TEAM_ID = "T0SANDBOX"
SANDBOX_TEAM_NAME = "Harbor & Pine Studio"
SANDBOX_CHANNEL_ID = "C0CASHFLOW"
SANDBOX_CHANNEL_NAME = "cash-flow"
DEFAULT_PORT = 8080
EVENTS_PATH = "slack/events"
def standin_users(people: tuple[Person, ...]) -> dict[str, dict[str, object]]:
    """``users.info`` data: names, and the workspace admin flag for the demo's admin."""
    users: dict[str, dict[str, object]] = {}
    for person in people:
        handle = person.name.split()[0].lower()
        users[person.user_id] = {
            "name": handle,
            "real_name": person.name,
            "display_name": person.name,
            "is_admin": person.role == "admin",
            "email": f"{handle}@harborpine.example",
        }
    return users


@dataclass(frozen=True)
class SandboxConfig:
    app_url: str  # where the app listens, e.g. "http://127.0.0.1:3000/"
    signing_secret: str
    people: tuple[Person, ...]  # the workspace's members, in the order the page's member switch lists them
    bot_token: str = "xoxb-sandbox-bot-token"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    with_mailbox: bool = True
    bot_scopes: tuple[str, ...] | None = None  # the app's manifest; None: the stand-in's generous default


class Sandbox:
    """The stand-in, its page, the signed sender towards the app, and the mailbox."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.people = config.people
        self.slack = SlackStandIn(
            bot_token=config.bot_token,
            team_id=SANDBOX_TEAM_ID,
            team_name=SANDBOX_TEAM_NAME,
            users=standin_users(self.people),
            bot_scopes=config.bot_scopes or DEFAULT_BOT_SCOPES,
            host=config.host,
            port=config.port,
        )
        self.slack.add_channel(SANDBOX_CHANNEL_ID, SANDBOX_CHANNEL_NAME)  # everyone, and the app, are in it
        app_url = config.app_url if config.app_url.endswith("/") else config.app_url + "/"
        self.sender = SlackSender(app_url + EVENTS_PATH, config.signing_secret, SANDBOX_TEAM_ID, self.slack)
        self.mailbox = Mailbox(host="127.0.0.1") if config.with_mailbox else None
        layout = Layout(
            team_name=SANDBOX_TEAM_NAME,
            channel_id=SANDBOX_CHANNEL_ID,
            channel_name=SANDBOX_CHANNEL_NAME,
            people=self.people,
        )
        self.page: SandboxPage = install_page(self.slack, self.sender, layout=layout, mailbox=self.mailbox)

    async def start(self) -> None:
        if self.mailbox is not None:
            await self.mailbox.start()
        try:
            await self.slack.start()
        except BaseException:
            if self.mailbox is not None:
                await self.mailbox.stop()
            raise

    async def stop(self) -> None:
        await self.slack.stop()
        if self.mailbox is not None:
            await self.mailbox.stop()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return self.slack.base_url
