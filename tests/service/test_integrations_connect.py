"""Connecting Xero end to end: the consent link, Xero's redirect to Tamio's callback over real HTTP,
choosing among several organisations, refusals; and the ``tamio connect|sync|integrations`` commands."""

from __future__ import annotations

import argparse
import socket
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from tamio.cli.context import CliContext
from tamio.cli.integrations import EX_TEMPFAIL, _connect, _reencrypt, _status, _sync
from tamio.data.models import Client
from tamio.integrations.connections import read_tokens
from tamio.integrations.xero.routes import CALLBACK_PATH, connect_url, install
from tests.service.test_xero_sync_fixtures import World, world_fixture  # noqa: F401


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def tamio_url(world: World) -> AsyncIterator[str]:
    """Tamio's web server on loopback with the Xero routes installed (what `tamio serve` does)."""
    port = free_port()
    world.settings = world.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    app = web.Application()
    install(app, world.settings, world.sessions, clock=world.clock.utc)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield world.settings.public_url
    finally:
        await runner.cleanup()


async def test_the_consent_link_comes_back_to_the_callback_which_stores_the_connection(world: World, tamio_url: str) -> None:
    link = connect_url(world.settings, account_id=world.account_id, now=world.clock.utc())
    assert link.startswith(world.xero.base_url + "/identity/connect/authorize?")
    async with world.http.get(link, allow_redirects=False) as consent:  # the user says yes on Xero's page
        back = consent.headers["Location"]
    assert back.startswith(tamio_url + CALLBACK_PATH)

    async with world.http.get(back) as page:
        assert page.status == 200
        assert "Xero is connected" in await page.text() and "Demo Company (US)" in await page.text()

    connection = await world.connection()
    assert (connection.status, connection.tenant_id) == ("active", world.xero.tenant_id)
    assert read_tokens(connection, world.cipher).access_token.startswith("at-")
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    assert (await world.service().sync()).counts == {"clients created": 1}


async def test_with_several_organisations_the_user_picks_one(world: World, tamio_url: str) -> None:
    second = world.xero.add_tenant("Harbour Bakery Ltd")
    state = parse_qs(urlsplit(connect_url(world.settings, account_id=world.account_id, now=world.clock.utc())).query)["state"][0]
    code = world.xero.issue_code(redirect_uri=tamio_url + CALLBACK_PATH, tenant_ids=[world.xero.tenant_id, second])
    async with world.http.get(f"{tamio_url}{CALLBACK_PATH}", params={"code": code, "state": state}) as page:
        text = await page.text()
    assert "Which organisation" in text and "Harbour Bakery Ltd" in text
    assert (await world.connection()).tenant_id is None
    with pytest.raises(Exception, match="No Xero organisation is chosen"):
        await world.service().sync()

    choice = next(part.split("'")[0] for part in text.split("href='")[1:] if second in part).replace("&amp;", "&")
    async with world.http.get(tamio_url + choice) as page:
        assert page.status == 200 and "Harbour Bakery Ltd" in await page.text()
    connection = await world.connection()
    assert (connection.tenant_id, connection.tenant_name) == (second, "Harbour Bakery Ltd")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"error": "access_denied"}, "did not give access (access_denied)"),
        ({"code": "x", "state": "forged"}, "expired or was not made by Tamio"),
        ({"state": "", "code": "x"}, "no state"),
    ],
)
async def test_refusals_and_forged_links_are_explained_and_store_nothing(
    world: World, tamio_url: str, query: dict[str, str], says: str
) -> None:
    async with world.http.get(tamio_url + CALLBACK_PATH, params=query) as page:
        assert page.status == 400 and says in await page.text()
    assert not await world.rows(Client)
    from tamio.integrations.models import IntegrationConnection

    assert not await world.rows(IntegrationConnection)


async def test_an_old_consent_link_is_refused(world: World, tamio_url: str) -> None:
    state = parse_qs(urlsplit(connect_url(world.settings, account_id=world.account_id, now=world.clock.utc())).query)["state"][0]
    world.clock.advance(minutes=16)
    code = world.xero.issue_code(redirect_uri=tamio_url + CALLBACK_PATH)
    async with world.http.get(tamio_url + CALLBACK_PATH, params={"code": code, "state": state}) as page:
        assert page.status == 400 and "expired" in await page.text()


async def test_the_commands_connect_sync_and_report(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = CliContext(settings=world.settings, account_id=world.account_id, _sessions=world.sessions, now=world.clock.utc())
    assert await _connect(argparse.Namespace(integration="xero"), ctx) == 0
    printed = capsys.readouterr().out
    assert "Open this link to connect Xero to Harbour Bakery" in printed and world.xero.base_url in printed

    await _status(argparse.Namespace(), ctx)
    assert "xero: not connected (tamio connect xero)" in capsys.readouterr().out
    await world.connect()
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    world.xero.day_limit = 1  # one call left today: the command says so and exits "try again later"
    assert await _sync(argparse.Namespace(integration="xero", full=False), ctx) == EX_TEMPFAIL
    printed = capsys.readouterr().out
    assert "clients created: 1" in printed and "carries on where this one stopped" in printed
    world.xero.day_limit = 5000
    assert await _sync(argparse.Namespace(integration="xero", full=True), ctx) == 0
    assert "Xero sync: nothing new" in capsys.readouterr().out
    await _status(argparse.Namespace(), ctx)
    assert "xero: active, organisation Demo Company (US), last sync" in capsys.readouterr().out
    assert await _reencrypt(argparse.Namespace(), ctx) == 0
    assert "tokens of 0 connections" in capsys.readouterr().out
