"""Pulling from Xero: a first full sync, an incremental one, and a second identical sync that changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from tamio.audit.models import AuditLog
from tamio.data.models import Client, CounterpartyStatus, ExpenseBucket
from tamio.integrations.models import IntegrationMapping, XeroSyncLog
from tamio.integrations.xero.records import format_if_modified_since
from tamio.obligations.models import (
    AgreementStatus,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
    ScheduleStatus,
)
from tests.service.test_xero_sync_fixtures import World, days, world_fixture  # noqa: F401
from tests.xero_standin import day_ms, xero_date


def seed_books(world: World) -> dict[str, str]:
    """A small business in Xero: customers, suppliers, one that is both, sales invoices, bills, a payment."""
    x = world.xero
    ids = {
        "harbour": x.add_contact(name="Harbour Cafe", email="ap@harbour.test", first_name="Jo", last_name="Bloggs", is_customer=True),
        "mill": x.add_contact(name="Mill Street Deli", is_customer=True),
        "flour": x.add_contact(name="Northern Flour", email="bills@flour.test", is_supplier=True),
        "both": x.add_contact(name="Corner Shop", is_customer=True, is_supplier=True),
        "prospect": x.add_contact(name="Just A Prospect"),
    }
    ids["inv_harbour"] = x.add_invoice(contact_id=ids["harbour"], total="1200.00", issue_date=days(-10), due_date=days(20), number="INV-0101")
    ids["inv_mill_eur"] = x.add_invoice(
        contact_id=ids["mill"], total="1000.00", issue_date=days(-5), due_date=days(25), number="INV-0102", currency="EUR", currency_rate="0.900000"
    )
    ids["inv_overdue"] = x.add_invoice(contact_id=ids["both"], total="300.00", issue_date=days(-40), due_date=days(-10), number="INV-0103")
    ids["bill_flour"] = x.add_invoice(contact_id=ids["flour"], total="850.50", issue_date=days(-3), due_date=days(11), kind="ACCPAY", number="NF-77")
    ids["bill_both"] = x.add_invoice(contact_id=ids["both"], total="90.00", issue_date=days(-3), due_date=days(30), kind="ACCPAY")
    ids["draft"] = x.add_invoice(contact_id=ids["harbour"], total="99.00", issue_date=days(-1), due_date=days(29), status="DRAFT")
    ids["voided_never_seen"] = x.add_invoice(contact_id=ids["mill"], total="10.00", issue_date=days(-1), due_date=days(29), status="VOIDED")
    ids["pay_harbour"] = x.add_payment(invoice_id=ids["inv_harbour"], amount="500.00", paid_on=days(-1))
    return ids


async def schedule_of(world: World, xero_invoice_id: str) -> ObligationSchedule:
    mapping = (await world.rows(IntegrationMapping, IntegrationMapping.external_id == xero_invoice_id))[0]
    return (await world.rows(ObligationSchedule, ObligationSchedule.id == mapping.entity_id))[0]


async def test_a_first_full_sync_builds_the_books_from_xero(world: World) -> None:
    ids = seed_books(world)
    await world.connect()

    report = await world.service().sync()

    assert report.complete and not report.errors
    assert report.counts == {
        "clients created": 3, "suppliers created": 2, "invoices created": 3, "bills created": 2, "payments recorded": 1,
    }
    clients = {c.name: c for c in await world.rows(Client)}
    assert set(clients) == {"Harbour Cafe", "Mill Street Deli", "Corner Shop"}  # not the prospect
    harbour = clients["Harbour Cafe"]
    assert (harbour.source, harbour.locked_fields) == ("xero", ["name"])
    assert (harbour.contact_email, harbour.contact_name) == ("ap@harbour.test", "Jo Bloggs")
    assert harbour.xero_contact_id == ids["harbour"]  # the legacy column, written too
    assert {b.name for b in await world.rows(ExpenseBucket)} == {"Northern Flour", "Corner Shop"}

    # The design document's query finds the entity by its Xero id; one contact maps to two entities.
    async with world.sessions() as db:
        found = (
            await db.execute(
                select(IntegrationMapping).where(
                    IntegrationMapping.integration_type == "xero",
                    IntegrationMapping.external_id == ids["both"],
                    IntegrationMapping.external_type == "contact",
                )
            )
        ).scalars().all()
    assert sorted(m.entity_type for m in found) == ["client", "expense_bucket"]

    harbour_invoice = await schedule_of(world, ids["inv_harbour"])
    assert harbour_invoice.invoice_number == "INV-0101" and harbour_invoice.source == "xero"
    assert (harbour_invoice.due_date, harbour_invoice.estimated_amount) == (days(20), Decimal("1200.000"))
    assert harbour_invoice.paid_amount == Decimal("500") and harbour_invoice.status == ScheduleStatus.PARTIALLY_PAID
    agreement = (await world.rows(ObligationAgreement, ObligationAgreement.id == harbour_invoice.obligation_id))[0]
    assert (agreement.source, agreement.frequency.value, agreement.client_id) == ("xero", "once", harbour.id)
    assert agreement.import_key == f"xero:{ids['inv_harbour']}"
    payment = (await world.rows(PaymentEvent))[0]
    assert (payment.amount, payment.variance_vs_expected, payment.source) == (Decimal("500"), Decimal("-700"), "xero")
    assert payment.schedule_id == harbour_invoice.id

    euros = await schedule_of(world, ids["inv_mill_eur"])
    assert euros.currency == "EUR" and euros.estimated_amount == Decimal("1000")
    assert euros.exchange_rate_used == (Decimal(1) / Decimal("0.9")).quantize(Decimal("0.000000000001"))
    assert euros.base_currency_amount == Decimal("1111.11")  # Xero's rate, not a guess

    assert (await schedule_of(world, ids["inv_overdue"])).status == ScheduleStatus.OVERDUE
    bill = await schedule_of(world, ids["bill_flour"])
    assert (bill.direction, bill.estimated_amount, bill.invoice_number) == (Direction.OUTFLOW, Decimal("850.5"), "NF-77")
    assert not await world.rows(IntegrationMapping, IntegrationMapping.external_id.in_([ids["draft"], ids["voided_never_seen"]]))

    logs = await world.rows(XeroSyncLog)
    assert [(log.direction, log.status, log.records_processed) for log in logs] == [("pull", "success", 11)]
    pulls = await world.rows(AuditLog, AuditLog.action == "sync")
    assert {(a.integration, a.direction) for a in pulls} == {("xero", "pull")}
    pages = [c for c in world.xero.calls if c.path.startswith("/api.xro")]
    assert all("if-modified-since" not in c.headers for c in pages)  # a first sync asks for everything


async def test_an_incremental_sync_asks_for_what_changed_and_applies_it(world: World) -> None:
    ids = seed_books(world)
    await world.connect()
    await world.service().sync()
    first_pass_started = world.clock.utc()
    world.clock.advance(hours=3)
    x, tenant = world.xero, world.xero.tenants[world.xero.tenant_id]
    x.update_contact(ids["harbour"], EmailAddress="finance@harbour.test", Name="Harbour Cafe Ltd")
    x.update_contact(ids["mill"], ContactStatus="ARCHIVED")
    newcomer = x.add_contact(name="Lighthouse Hotel", is_customer=True)
    x.add_invoice(contact_id=newcomer, total="2400.00", issue_date=days(0), due_date=days(30), number="INV-0104")
    x.add_payment(invoice_id=ids["inv_harbour"], amount="700.00", paid_on=days(0))  # settles it
    tenant.invoices[ids["bill_flour"]].update(Status="VOIDED")
    x._touch(tenant.invoices[ids["bill_flour"]])
    tenant.invoices[ids["inv_overdue"]].update(DueDate=xero_date(day_ms(days(5))))  # the customer got more time
    x._touch(tenant.invoices[ids["inv_overdue"]])
    calls_before = len(x.calls)

    report = await world.service().sync()

    assert report.counts == {
        "clients created": 1, "clients updated": 2, "invoices created": 1, "invoices settled": 1, "invoices updated": 1,
        "bills cancelled": 1, "payments recorded": 1,
    }
    since = format_if_modified_since(first_pass_started - timedelta(minutes=5))  # a margin for clock skew
    pulls = [c for c in x.calls[calls_before:] if c.path.startswith("/api.xro")]
    assert pulls and {c.headers.get("if-modified-since") for c in pulls} == {since}
    clients = {c.name: c for c in await world.rows(Client)}
    assert clients["Harbour Cafe Ltd"].contact_email == "finance@harbour.test"
    assert clients["Mill Street Deli"].status == CounterpartyStatus.PAUSED
    assert len(clients) == 4
    settled = await schedule_of(world, ids["inv_harbour"])
    assert (settled.status, settled.paid_amount, settled.paid_at) == (ScheduleStatus.PAID, Decimal("1200"), days(0))
    voided = await schedule_of(world, ids["bill_flour"])
    assert voided.status == ScheduleStatus.CANCELLED
    agreement = (await world.rows(ObligationAgreement, ObligationAgreement.id == voided.obligation_id))[0]
    assert agreement.status == AgreementStatus.CANCELLED
    moved = await schedule_of(world, ids["inv_overdue"])
    assert (moved.due_date, moved.rule_date, moved.status) == (days(5), days(5), ScheduleStatus.SCHEDULED)
    assert len(await world.rows(ObligationSchedule, ObligationSchedule.obligation_id == moved.obligation_id)) == 1


async def test_a_second_identical_sync_changes_nothing(world: World) -> None:
    seed_books(world)
    await world.connect()
    await world.service().sync()
    counts, contents = await world.table_counts(), await world.table_contents("integration_connections")

    world.clock.advance(minutes=10)
    again = await world.service().sync()
    world.clock.advance(minutes=10)
    full = await world.service().sync(full=True)

    assert again.complete and full.complete and again.changed == full.changed == 0
    assert full.pages == 4  # everything was read again...
    assert await world.table_counts() == counts  # ...and not one row added
    assert await world.table_contents("integration_connections") == contents  # nor changed


async def test_invoices_of_a_contact_not_pulled_as_a_customer_still_find_their_client(world: World) -> None:
    x = world.xero
    supplier_only = x.add_contact(name="Two Way Traders", is_supplier=True)
    await world.connect()
    await world.service().sync()
    world.clock.advance(minutes=5)
    # Xero marks the contact a customer with its first sales invoice, without touching the contact.
    invoice = x.add_invoice(contact_id=supplier_only, total="75.00", issue_date=days(0), due_date=days(14))
    report = await world.service().sync()
    assert report.counts == {"clients created": 1, "invoices created": 1}
    client = (await world.rows(Client))[0]
    assert (client.name, client.source, client.xero_contact_id) == ("Two Way Traders", "xero", supplier_only)
    assert (await schedule_of(world, invoice)).estimated_amount == Decimal("75")


async def test_a_manual_client_with_the_same_name_is_adopted_not_duplicated(world: World) -> None:
    from tests.service.books import Books

    async with world.sessions() as db, db.begin():
        from tamio.accounts.models import Account

        account = await db.get(Account, world.account_id)
        assert account is not None
        books = Books(db, account, days(0))
        await books.client("Harbour Cafe", "400", books.every("monthly", days(3), day=5), contact_email="typed@harbour.test")
    world.xero.add_contact(name="harbour cafe", is_customer=True)
    await world.connect()
    report = await world.service().sync()
    assert report.counts == {"clients linked": 1}
    client = (await world.rows(Client))[0]
    assert (client.name, client.source, client.locked_fields) == ("harbour cafe", "xero", ["name"])
    assert client.contact_email == "typed@harbour.test"  # Xero's blank never erases what the team typed
    assert len(await world.rows(ObligationAgreement)) == 1  # the monthly line stays


async def test_paid_invoices_first_seen_paid_are_settled_and_old_payments_leave_the_balance_alone(world: World) -> None:
    from tamio.data.models import CashAccount
    from tamio.data.service import set_balance

    x = world.xero
    cafe = x.add_contact(name="Harbour Cafe", is_customer=True)
    old = x.add_invoice(contact_id=cafe, total="100.00", issue_date=days(-30), due_date=days(-20))
    x.add_payment(invoice_id=old, amount="100.00", paid_on=days(-18))
    async with world.sessions() as db, db.begin():
        from tamio.accounts.models import Account

        account = await db.get(Account, world.account_id)
        assert account is not None
        await set_balance(db, account=account, name="Current", amount=Decimal("5000"), currency="USD", on_date=days(0), now=world.clock.utc())
    await world.connect()
    await world.service().sync()
    schedule = await schedule_of(world, old)
    assert (schedule.status, schedule.paid_at) == (ScheduleStatus.PAID, days(-18))
    payment = (await world.rows(PaymentEvent))[0]
    assert payment.variance_vs_expected == 0 and payment.cash_account_id is None
    assert (await world.rows(CashAccount))[0].balance == Decimal("5000")  # already in the balance

    world.clock.advance(days=2)
    fresh = x.add_invoice(contact_id=cafe, total="250.00", issue_date=days(1), due_date=days(15))
    x.add_payment(invoice_id=fresh, amount="250.00", paid_on=days(2))
    await world.service().sync()
    assert (await world.rows(CashAccount))[0].balance == Decimal("5250")  # money received since the balance was set
