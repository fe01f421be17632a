"""The sandbox of ``make run``: the Slack stand-in with its web page on 127.0.0.1:8080, pointed at the app.

It plays the Slack workspace of the demo company (``tamio.demo``): the four demo people, the
``#cash-flow`` channel the demo account posts its cards to, the app's DM and App Home. The app
itself (``tamio serve``) runs apart, with ``app_environment()``: its Web API calls go to the
stand-in, its SMTP to the sandbox mailbox, and it shares the signing secret and bot token, so each
request the page sends is signed exactly as Slack signs it and the app checks it as usual.

    sandbox = Sandbox(SandboxConfig(app_url="http://127.0.0.1:3000/", signing_secret=secret))
    await sandbox.start()                       # sandbox.url == "http://127.0.0.1:8080/"
    env = sandbox.app_environment(os.environ, database_url=url, app_port=3000)   # for `tamio serve`
    ...
    await sandbox.stop()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from bot.sandbox.page import SandboxPage, install_page
from bot.sandbox.page.feed import Layout, Person
from bot.sandbox.page.mailbox import Mailbox
from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from tamio.demo import DEMO_NAMES

SANDBOX_TEAM_ID = "T0SANDBOX"
SANDBOX_TEAM_NAME = "Harbor & Pine Studio"
SANDBOX_CHANNEL_ID = "C0CASHFLOW"
SANDBOX_CHANNEL_NAME = "cash-flow"
DEFAULT_PORT = 8080
EVENTS_PATH = "slack/events"
# Settings `tamio serve` must not take from the environment while it talks to the sandbox (removed, not
# emptied: Bolt turns OAuth on when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are merely present).
APP_UNSET = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_APP_TOKEN", "SMTP_USERNAME", "SMTP_PASSWORD")


def sandbox_people() -> tuple[Person, ...]:
    """The demo company's Slack members, in the order the member switch lists them."""
    return tuple(Person(user_id, name, role.value) for user_id, (name, role) in DEMO_NAMES.items())


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
    app_url: str  # where `tamio serve` listens, e.g. "http://127.0.0.1:3000/"
    signing_secret: str
    bot_token: str = "xoxb-sandbox-bot-token"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    with_mailbox: bool = True


class Sandbox:
    """The stand-in, its page, the signed sender towards the app, and the mailbox."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.people = sandbox_people()
        self.slack = SlackStandIn(
            bot_token=config.bot_token,
            team_id=SANDBOX_TEAM_ID,
            team_name=SANDBOX_TEAM_NAME,
            users=standin_users(self.people),
            host=config.host,
            port=config.port,
        )
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

    def app_environment(self, base: Mapping[str, str], *, database_url: str, app_port: int) -> dict[str, str]:
        """The environment for ``tamio serve`` against this sandbox (``base`` is usually os.environ)."""
        env = {key: value for key, value in base.items() if key not in APP_UNSET}
        env.update(
            TAMIO_DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=self.config.bot_token,
            SLACK_SIGNING_SECRET=self.config.signing_secret,
            SLACK_API_URL=self.slack.api_url,
            TAMIO_PUBLIC_URL=f"http://127.0.0.1:{app_port}",
        )
        if self.mailbox is not None:
            env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(self.mailbox.port), SMTP_STARTTLS="false")
        return env
