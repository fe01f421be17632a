"""Issue 22, tenant walls: everything account B may write (through the REST API, Slack and the CLI)
leaves every figure, threshold and approval rule of account A as it was. Runs on SQLite and PostgreSQL.

The finding: exchange rates were shared by every account on a server and any account's admin could
write them. Workspace B's admin posting EUR/USD 0.000001 made A's new EUR 100,000 cash account worth
$0.10, and a EUR 50,000 collection of A needed one approval instead of two. Here B writes that and
everything else it may, each way it may; then A's rows, its forecast, its conversions and the amount
its approval rule weighs are compared, and A's new EUR figures convert at the feed's rate.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import fields
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tamio.accounts.models import Account
from tamio.api import all_routes
from tamio.currency.service import RateBook, list_rates
from tamio.db import Base
from tamio.errors import MissingExchangeRate
from tamio.execution.lifecycle import amount_at_stake
from tamio.forecast.service import calculate_forecast
from tamio.preparation.models import ActionOption, PreparedAction
from tests.api.conftest import Api, Business, assert_problem, today
from tests.bot.conftest import ADMIN, APPROVER, start_bot, workspace
from tests.conftest import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
ECB_DAILY = (ROOT / "tests" / "fixtures" / "ecb" / "eurofxref-daily.xml").read_text()
# An ECB file as B would make it: a euro worth a millionth of a dollar.
TINY_EURO = ECB_DAILY.replace("rate='1.0552'", "rate='0.000001'").replace("2024-11-27", today().isoformat())


def api_writes(b: Business) -> dict[str, list[tuple[str, str, Any]]]:
    """Every write route, called by B's admin with B's own ids and the most damaging values B could pick."""
    start = today().isoformat()
    eur_monthly = {"amount": "999999999999", "currency": "EUR", "recurrence": {"frequency": "monthly", "start_date": start}}
    return {
        "run_pipeline": [("POST", "/pipeline/run", {})],
        "run_critical": [("POST", "/pipeline/run-critical", {})],
        "approve_action": [("POST", f"/pipeline/actions/{b.action_id}/approve", {"option_id": b.option_ids[0]})],
        "skip_action": [("POST", f"/pipeline/actions/{b.big_action_id}/skip", {"reason": "B's own"})],
        "create_user_config": [("POST", "/data/user-config/", {"user_id": b.account_id, "late_payment_threshold_days": 1})],
        "create_user_config_at": [("POST", f"/data/user-config/{b.account_id}", {"runway_buffer_months": 60})],
        "update_user_config": [("PUT", f"/data/user-config/{b.account_id}", {"obligations_buffer_amount": "999999999999"})],
        "delete_user_config": [("DELETE", f"/data/user-config/{b.account_id}", None)],
        "create_client": [("POST", "/data/clients", {"name": "Acme Corp", "billing": eur_monthly})],
        "update_client": [("PATCH", f"/data/clients/{b.client_id}", {"name": "Acme Corp (B)", "billing": eur_monthly})],
        "create_expense": [("POST", "/data/expense-buckets", {"name": "Payroll", "category": "payroll", "billing": eur_monthly})],
        "update_expense": [("PATCH", f"/data/expense-buckets/{b.expense_id}", {"status": "ended"})],
        "add_an_obligation": [("POST", "/data/obligations", {"kind": "client", "name": "Acme Corp", "invoice": "INV-1", **eur_monthly,
                                                             "recurrence": {"frequency": "once", "start_date": "2021-12-31"}})],
        "cancel_obligation": [("POST", f"/data/obligations/{b.client_obligation_id}/cancel", None)],
        "create_payment": [("POST", "/data/payments", {"amount": "999999999999", "currency": "EUR", "client_id": b.client_id})],
        "create_cash": [("POST", "/data/cash-accounts", {"name": "Operating EUR", "balance": "999999999999", "currency": "EUR"})],
        "set_cash_balance": [("PUT", f"/data/cash-accounts/{b.cash_account_id}/balance", {"balance": "-999999999999"})],
        "add_exchange_rate": [("POST", "/data/exchange-rates", {"base_currency": base, "quote_currency": "USD", "rate": "0.000001"})
                              for base in ("EUR", "GBP", "CHF")],
        "import_ecb_rates": [("POST", "/data/exchange-rates/import-ecb", {"content": TINY_EURO})],
        "retry_action": [("POST", f"/pipeline/actions/{b.action_id}/retry", None)],
        "edit_action_draft": [("POST", f"/pipeline/actions/{b.big_action_id}/draft", {"subject": "B's own", "body": "B's own."})],
        "change_rule": [("PATCH", "/automation/rules/payment_batch", {"auto_execute": True, "threshold_amount": "999999999999"}),
                        ("PATCH", "/automation/rules/statutory_payment", {"auto_execute": True})],
        "change_detection": [("PATCH", "/config/detection/late_payment", {"threshold": "365"}),
                             ("PATCH", "/config/detection/buffer_breach", {"enabled": False})],
        "delay_agreed": [("POST", f"/pipeline/actions/{b.action_id}/delay-agreed", None)],
        "evaluate_scenario": [("POST", "/forecast/scenarios", {"what_if": ['once in 999999999999 on today']})],
        "create_scenario": [("POST", "/data/scenarios", {"name": "Acme late", "what_if": ['once out 999999999999 on today']})],
        "replace_scenario": [("PUT", f"/data/scenarios/{b.extra.get('scenario_id', 'x')}", {"name": "Acme late", "what_if": ['once in 5 on today']})],
        "delete_saved_scenario": [("DELETE", f"/data/scenarios/{b.extra.get('scenario_id', 'x')}", None)],
    }


SLACK_WRITES = [
    'add client "Acme Corp" 50000 EUR monthly', 'add expense "Payroll" 999999999999 EUR monthly',
    'balance set "Operating" 999999999999 EUR', 'paid "Acme Corp" 5', "rate EUR 0.000001", "rate GBP 0.000001",
    "config set dual_approval_threshold 999999999999", "config set obligations_buffer_amount 999999999999",
    "config set safety_mode aggressive", "config set late_payment_threshold_days 365", "config set base_currency EUR",
    f"role <@{APPROVER}> admin", 'rename client "Acme Corp" "Acme"', 'contact "Acme" ap@b.example', "digest here", "token", "run",
    "rules set payment_batch auto on threshold 999999999999", "rules set vendor_delay auto on",
    "detection late_payment threshold 365", "detection buffer_breach off", 'client "Acme Corp" strategic',
    'vendor "Payroll" can-delay not-critical',
]


def cli_writes(b: Business, tmp_path: Path) -> list[list[str]]:
    ecb = tmp_path / "tiny.xml"
    ecb.write_text(TINY_EURO)
    csv = tmp_path / "b.csv"
    csv.write_text(f"counterparty,kind,amount,currency,frequency,start_date\nAcme Corp,revenue,999999999999,EUR,monthly,{today()}\n")
    return [
        ["rates", "add", "EUR", "USD", "0.000001"], ["rates", "import", str(ecb)], ["balance", "set", "Operating", "999999999999", "EUR"],
        ["import", "obligations", str(csv)], ["contact", "Acme Corp", "ap@b.example"], ["member", "add", "--name", "eve", "--role", "admin"],
        ["actions", "skip", b.big_action_id, "--as", "ada"],
        ["actions", "rules", "set", "excess_allocation", "--auto", "on", "--threshold", "999999999999", "--as", "ada"],
    ]


def converted(book: RateBook, currency: str) -> str:
    try:
        return str(book.convert(Decimal("100000"), currency, "USD", today()).amount)
    except MissingExchangeRate:
        return "no rate"


async def snapshot(api: Api, account_id: str, now: datetime) -> dict[str, Any]:
    """Account A as it can be seen: its rows, its forecast, the rates it reads, its conversions, what its approval rule weighs."""
    seen: dict[str, Any] = {}
    async with api.sessions() as db, db.begin():
        for table in Base.metadata.sorted_tables:
            owner = table.columns.get("user_id")
            if owner is None:
                continue
            rows = (await db.execute(select(table).where(owner == account_id).order_by(*table.primary_key.columns))).all()
            seen[table.name] = [tuple(str(v) for v in row) for row in rows]
        seen["forecast"] = (await calculate_forecast(db, account_id, as_of=today(), settings=api.settings)).to_json()
        seen["rates"] = [(r.base_currency, r.quote_currency, str(r.rate), r.user_id) for r in await list_rates(db, account_id=account_id)]
        book = await RateBook.load(db, {"EUR", "GBP", "CHF", "JPY", "USD"}, today(), account_id=account_id)
        seen["conversions"] = [converted(book, code) for code in ("EUR", "GBP", "CHF", "JPY")]
        account = await db.get(Account, account_id)
        assert account is not None
        stakes = []
        for action in (await db.execute(select(PreparedAction).where(PreparedAction.user_id == account_id))).scalars():
            option = (await db.execute(select(ActionOption).where(ActionOption.action_id == action.id))).scalars().first()
            assert option is not None
            stakes.append(str(await amount_at_stake(db, account=account, action=action, option=option, now=now)))
        seen["stakes"] = sorted(stakes)
    return seen


async def cli(db_url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "TAMIO_DATABASE_URL": db_url, "TAMIO_SECRET_KEY": TEST_SECRET_KEY, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "tamio.cli", *args, env=env, cwd=str(ROOT),
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), (out + err).decode()


def test_every_write_route_is_in_the_walk() -> None:
    """A new write route must be added to ``api_writes``, so it cannot skip the walk."""
    anyone = Business(**{f.name: ["x"] if f.name == "option_ids" else "x" for f in fields(Business) if f.name != "extra"})
    assert set(api_writes(anyone)) == {r.operation_id for r in all_routes() if r.method != "GET"}


@pytest.mark.slow
async def test_what_account_b_writes_anywhere_leaves_account_a_as_it_was(
    api: Api, business: Business, other_business: Business, db_url: str, tmp_path: Path
) -> None:
    a, b = business, other_business
    noon = datetime.combine(today(), time(12), tzinfo=UTC)
    # A at rest: the server has answered A's own changes (refresh requests) and handled its messages.
    async with workspace() as slack:
        async for bot in start_bot(slack, api.sessions):
            await bot.settle()
    before = await snapshot(api, a.account_id, noon)
    assert before["conversions"][0] == "108000.00" and before["rates"]

    for operation, calls in api_writes(b).items():
        for method, path, body in calls:
            reply = await api.call(method, path, token=b.admin, json=body)
            assert reply.status < 500, (operation, reply.status, reply.text)
    async with workspace() as slack:
        async for bot in start_bot(slack, api.sessions):
            for text in SLACK_WRITES:
                reply = await bot.command(ADMIN, text)
                assert reply.status == 200 and "Sorry, something went wrong" not in str(bot.ephemerals_for(ADMIN)[-1:]), text
    for args in cli_writes(b, tmp_path):
        code, said = await cli(db_url, "--account", b.account_id, *args)
        assert code in (0, 1) and "Traceback" not in said, (args, said)

    assert await snapshot(api, a.account_id, noon) == before
    # And A's own new EUR figures convert at the feed's rate, whatever B set for itself.
    created = await api.post("/data/cash-accounts", token=a.approver, json={"name": "Paris", "balance": "100000", "currency": "EUR"})
    assert created.status == 201 and created.json()["base_currency_amount"] == "108000.00", created.text
    async with api.sessions() as db:
        account = await db.get(Account, a.account_id)
        assert account is not None
        action = PreparedAction(user_id=a.account_id, action_type="collection_escalation", severity="this_week", title="Collect",
                                amount=Decimal("50000"), currency="EUR", counterparty_name="Acme Corp")
        option = ActionOption(action_id="-", rank=1, kind="send_email", title="Chase", amount=Decimal("50000"), currency="EUR")
        assert await amount_at_stake(db, account=account, action=action, option=option, now=noon) == Decimal("54000.00")


async def test_amounts_and_rates_that_pass_the_schema_cannot_overflow_when_multiplied_or_summed(api: Api, business: Business) -> None:
    """Findings: a 12-digit amount times a 9-digit rate was a 500 (schemathesis, POST /data/payments);
    two balances at the limit overflowed the account's SUM, after which its forecast was a 500."""
    a = business
    steep = await api.post("/data/exchange-rates", token=a.admin, json={"base_currency": "EUR", "quote_currency": "USD", "rate": "999999999"})
    assert steep.status == 201, steep.text
    for path, body in (("/data/payments", {"amount": "999999999999", "currency": "EUR", "client_id": a.client_id}),
                       ("/data/cash-accounts", {"name": "Paris", "balance": "999999999999", "currency": "EUR"})):
        reply = await api.post(path, token=a.approver, json=body)
        problem = assert_problem(reply, 422)
        assert "more than the 1,000,000,000,000 Tamio takes" in problem["detail"], problem
    for name in ("One", "Two", "Three"):
        made = await api.post("/data/cash-accounts", token=a.approver, json={"name": name, "balance": "999999999999.99"})
        assert made.status == 201, made.text
    forecast = await api.get("/forecast", token=a.viewer)
    assert forecast.status == 200 and forecast.json()["opening_balance"] == "3000000050999.97", forecast.text
    too_many = await api.post("/data/cash-accounts", token=a.approver, json={"name": "Four", "balance": "1000000000000.01"})
    assert_problem(too_many, 422)
