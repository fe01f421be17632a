"""Importing a small business's bills, payroll and retainers from a spreadsheet: all rows or none."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from tamio.obligations.csv_format import (
    HEADER,
    CsvFieldError,
    CsvImportError,
    ObligationRow,
    ObligationsReader,
    parse_obligations_csv,
)
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, describe

HEADER_LINE = ",".join(HEADER)
GOOD_FILE = f"""{HEADER_LINE}
Landlord LLC,expense,"4,500.00",usd,monthly,2026-01-31,,31,preceding,US
Staff payroll,payroll,18200,USD,semimonthly,2026-01-15,2026-12-31,,modified_following,us

IRS,tax,1200.50,USD,quarterly,2026-01-15,,,,
Acme retainer,revenue,3000,EUR,"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",2026-01-01,,,following,DE
Tokyo supplier,expense,250000,JPY,once,2026-03-02,,,,
"""


def problems(text: str) -> list[CsvFieldError]:
    with pytest.raises(CsvImportError) as caught:
        parse_obligations_csv(text)
    return caught.value.errors


def one_row(**cells: str) -> str:
    row = {
        "counterparty": "Landlord LLC",
        "kind": "expense",
        "amount": "4500",
        "currency": "USD",
        "frequency": "monthly",
        "start_date": "2026-01-31",
        "end_date": "",
        "day": "",
        "business_day": "",
        "calendar": "",
    }
    row.update(cells)
    return f"{HEADER_LINE}\n" + ",".join(f'"{row[name]}"' for name in HEADER) + "\n"


def test_a_good_file_gives_one_row_per_obligation_with_its_schedule() -> None:
    rent, payroll, tax, retainer, supplier = parse_obligations_csv(GOOD_FILE)

    assert rent == ObligationRow(
        line=2,
        counterparty="Landlord LLC",
        kind="expense",
        amount=Decimal("4500.00"),
        currency="USD",
        frequency=Frequency.MONTHLY,
        rrule="FREQ=MONTHLY;BYMONTHDAY=-1",
        start_date=date(2026, 1, 31),
        end_date=None,
        day=31,
        convention=BusinessDayConvention.PRECEDING,
        calendar="US",
    )
    # 28 Feb 2026 is a Saturday: the rent is paid on Friday the 27th.
    assert [o.due_date for o in rent.recurrence.occurrences(date(2026, 2, 1), date(2026, 2, 28))] == [
        date(2026, 2, 27)
    ]

    assert payroll.line == 3
    assert payroll.rrule == "FREQ=MONTHLY;BYMONTHDAY=15,-1;UNTIL=20261231"
    assert payroll.calendar == "US"
    assert payroll.convention is BusinessDayConvention.MODIFIED_FOLLOWING
    assert payroll.end_date == date(2026, 12, 31)

    assert tax.line == 5  # the blank line 4 is skipped but still counted
    assert tax.amount == Decimal("1200.50")
    assert tax.rrule == "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15"
    assert describe(tax.recurrence) == "quarterly on the 15th"

    assert retainer.frequency is Frequency.CUSTOM
    assert retainer.rrule == "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    assert describe(retainer.recurrence) == (
        "monthly on the last business day; on weekends and DE holidays, the next business day"
    )

    assert supplier.amount == Decimal("250000")
    assert supplier.rrule == "FREQ=DAILY;COUNT=1"
    assert describe(supplier.recurrence) == "once on 2 Mar 2026"


def test_a_spreadsheet_export_with_a_byte_order_mark_crlf_and_empty_rows_reads_the_same() -> None:
    exported = "\ufeff" + GOOD_FILE.replace("\n", "\r\n") + ",,,,,,,,,\r\n"
    assert parse_obligations_csv(exported) == parse_obligations_csv(GOOD_FILE)


def test_an_rrule_is_passed_through_and_its_end_date_becomes_until() -> None:
    (row,) = parse_obligations_csv(
        one_row(frequency="RRULE:FREQ=MONTHLY;BYDAY=1MO", start_date="2026-01-01", end_date="2026-06-30")
    )
    assert row.frequency is Frequency.CUSTOM
    assert row.rrule == "FREQ=MONTHLY;BYDAY=1MO;UNTIL=20260630"
    assert [o.rule_date for o in row.recurrence.occurrences(date(2026, 1, 1), date(2026, 12, 31))][
        -1
    ] == date(2026, 6, 1)


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ({"counterparty": " "}, "counterparty", "the counterparty is empty"),
        ({"kind": "rent"}, "kind", "I don't know the kind 'rent'; use revenue, expense, payroll or tax"),
        (
            {"amount": "12,00.5"},
            "amount",
            "I couldn't read '12,00.5' as an amount; write it like 1200 or 1,200.50",
        ),
        ({"amount": "-4500"}, "amount", "the amount must be positive"),
        ({"amount": "0.00"}, "amount", "the amount must be more than zero"),
        ({"amount": "4500.505"}, "amount", "USD amounts have at most 2 decimal places; '4500.505' has 3"),
        ({"amount": "4500.5", "currency": "JPY"}, "amount", "JPY amounts have at most 0 decimal places"),
        ({"currency": "XYZ"}, "currency", "'XYZ' is not a currency I know"),
        ({"currency": "XTS"}, "currency", "'XTS' is not a currency I know"),
        ({"currency": "US"}, "currency", "'US' is not a currency code"),
        ({"amount": "١٢٠٠"}, "amount", "I couldn't read '١٢٠٠' as an amount"),
        ({"amount": "99999999999999999"}, "amount", "is more than Tamio takes: at most 1,000,000,000,000"),
        ({"frequency": "fortnightly"}, "frequency", "I don't know the frequency 'fortnightly'"),
        ({"frequency": "FREQ=HOURLY"}, "frequency", "obligations fall due on days"),
        ({"frequency": "FREQ=MONTHLY;BYFOO=1"}, "frequency", "I couldn't read the rule"),
        (
            {"start_date": "31/01/2026"},
            "start_date",
            "I couldn't read '31/01/2026' as a date; write it as YYYY-MM-DD",
        ),
        ({"start_date": "2026-02-30"}, "start_date", "2026-02-30 is not a date on the calendar"),
        ({"start_date": ""}, "start_date", "the date is empty"),
        (
            {"end_date": "2025-12-31"},
            "end_date",
            "the end date 2025-12-31 is before the start date 2026-01-31",
        ),
        ({"day": "32"}, "day", "day must be between 1 and 31, or -1 for the month's last day"),
        ({"day": "first"}, "day", "I couldn't read 'first' as a day"),
        ({"day": "15", "frequency": "weekly"}, "day", "day applies only to monthly, quarterly and annual"),
        ({"day": "15", "frequency": "FREQ=MONTHLY"}, "day", "day doesn't apply to an RRULE"),
        ({"business_day": "nearest"}, "business_day", "I don't know the business-day rule 'nearest'"),
        (
            {"calendar": "XX"},
            "calendar",
            "unknown holiday calendar 'XX'; use a country code such as US, GB or DE",
        ),
        ({"frequency": "once", "end_date": "2026-03-31"}, "end_date", "a one-off obligation has no end date"),
        (
            {"day": "5", "start_date": "2026-01-20", "end_date": "2026-01-31"},
            "end_date",
            "there is no date between 2026-01-20 and 2026-01-31 on this schedule",
        ),
    ],
)
def test_each_bad_cell_is_named_by_line_and_column(cells: dict[str, str], column: str, message: str) -> None:
    (problem,) = problems(one_row(**cells))
    assert (problem.line, problem.column) == (2, column)
    assert message in problem.message


def test_every_problem_in_the_file_is_reported_and_nothing_is_imported() -> None:
    text = f"""{HEADER_LINE}
Landlord LLC,expense,4500,USD,monthly,2026-01-31,,,,
Staff payroll,payroll,"12,00.5",USD,semimonthly,2026-01-15,,,,
IRS,tax,1200,USD,quarterly,2026-13-15,,,,XX
Acme,revenue,3000,USD,monthly,2026-01-01,,
"""
    with pytest.raises(CsvImportError) as caught:
        parse_obligations_csv(text)
    assert str(caught.value).splitlines() == [
        "line 3, column amount: I couldn't read '12,00.5' as an amount; write it like 1200 or 1,200.50",
        "line 4, column start_date: 2026-13-15 is not a date on the calendar; check the month and day",
        "line 4, column calendar: unknown holiday calendar 'XX'; use a country code such as US, GB or DE",
        "line 5: this row has 8 cells; the header has 10",
    ]
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (HEADER_LINE.replace(",start_date", ""), "missing: start_date"),
        (HEADER_LINE + ",notes", "unexpected: notes"),
        (HEADER_LINE.replace("amount", "amount_usd"), "missing: amount; unexpected: amount_usd"),
    ],
)
def test_a_header_without_the_expected_columns_names_the_header_to_use(header: str, detail: str) -> None:
    (problem,) = problems(f"{header}\nLandlord LLC,expense,4500,USD,monthly,2026-01-31,,,,\n")
    assert problem.line == 1
    assert f"the first line must be the header {HEADER_LINE}" in problem.message
    assert detail in problem.message


def test_the_columns_may_come_in_any_order() -> None:
    reordered = ",".join(reversed(HEADER)) + "\n" + ",,,,2026-01-31,monthly,USD,4500,expense,Landlord LLC\n"
    (row,) = parse_obligations_csv(reordered)
    assert (row.counterparty, row.amount, row.rrule) == (
        "Landlord LLC",
        Decimal("4500"),
        "FREQ=MONTHLY;BYMONTHDAY=-1",
    )


def test_an_empty_file_or_a_header_alone_is_refused() -> None:
    assert "the file is empty" in problems("")[0].message
    assert "no obligations below it" in problems(HEADER_LINE + "\n\n")[0].message


def test_the_same_row_gives_the_same_import_key_wherever_it_is() -> None:
    first = parse_obligations_csv(GOOD_FILE)
    moved = f"{HEADER_LINE}\n\n\n" + "\n".join(reversed(GOOD_FILE.strip().splitlines()[1:])) + "\n"
    second = parse_obligations_csv(moved)
    assert {row.import_key for row in first} == {row.import_key for row in second}
    assert [row.line for row in first] != [row.line for row in second]
    assert len({row.import_key for row in first}) == len(first)
    assert all(len(row.import_key) == 64 and int(row.import_key, 16) >= 0 for row in first)

    # The same obligation written differently keeps its key; a different amount does not.
    (plain,) = parse_obligations_csv(one_row(amount="4500", counterparty="Landlord LLC"))
    (written,) = parse_obligations_csv(one_row(amount="4,500.00", counterparty="  landlord   llc ", day="31"))
    (raised,) = parse_obligations_csv(one_row(amount="4600"))
    assert plain.import_key == written.import_key
    assert raised.import_key != plain.import_key


def test_a_row_repeated_in_the_same_file_is_refused() -> None:
    row = "Landlord LLC,expense,4500,USD,monthly,2026-01-31,,,,"
    (problem,) = problems(f"{HEADER_LINE}\n{row}\n{row}\n")
    assert str(problem) == "line 3: this row repeats line 2; merge them into one row"


def test_an_optional_flexibility_column_says_which_vendors_may_wait() -> None:
    text = f"""{HEADER_LINE},flexibility
Landlord LLC,expense,4500,USD,monthly,2026-01-31,,,,,cannot_delay
Cloud Host,expense,1200,USD,monthly,2026-01-15,,,,,Can Delay
Cloud Host,expense,90,USD,weekly,2026-01-05,,,,,
Acme,revenue,3000,USD,monthly,2026-01-01,,,,,
"""
    landlord, cloud, cloud_weekly, acme = parse_obligations_csv(text)
    assert (landlord.flexibility, cloud.flexibility, cloud_weekly.flexibility, acme.flexibility) == ("cannot_delay", "can_delay", None, None)
    # The column belongs to the vendor: it does not change which obligation a row is.
    (without,) = parse_obligations_csv(one_row(counterparty="Cloud Host", amount="1200", start_date="2026-01-15"))
    assert without.flexibility is None and without.import_key == cloud.import_key


def test_a_bad_or_contradicting_flexibility_is_named_by_line_and_column() -> None:
    text = f"""{HEADER_LINE},flexibility
Acme,revenue,3000,USD,monthly,2026-01-01,,,,,can_delay
Cloud Host,expense,1200,USD,monthly,2026-01-15,,,,,sometimes
Printer,expense,50,USD,monthly,2026-01-15,,,,,negotiable
printer,expense,60,USD,weekly,2026-01-05,,,,,cannot_delay
"""
    assert [str(p) for p in problems(text)] == [
        "line 2, column flexibility: flexibility is for what you pay (expense, payroll or tax); leave it empty on revenue rows",
        "line 3, column flexibility: I don't know the flexibility 'sometimes'; use can_delay, negotiable or cannot_delay, or leave it empty",
        "line 5, column flexibility: line 4 says negotiable for printer; give a vendor one flexibility",
    ]


def test_an_unquoted_rrule_with_commas_is_told_to_be_quoted() -> None:
    (problem,) = problems(f"{HEADER_LINE}\nAcme,revenue,3000,USD,FREQ=WEEKLY;BYDAY=MO,FR,2026-01-05,,,,\n")
    assert str(problem) == (
        'line 2: this row has 11 cells; the header has 10 (put an RRULE with commas in double quotes, like "FREQ=WEEKLY;BYDAY=MO,FR")'
    )


def test_a_quote_never_closed_is_named_as_such() -> None:
    """Before: 'this row has 1 cells' for the rest of the file swallowed into one cell, and a cell past
    csv's size limit was 'field larger than field limit (131072); check its quotes', quotes or not."""
    row = "Open Co,expense,5,USD,monthly,2027-01-01,,,,"
    for text in (f'{HEADER_LINE}\n"{row}\n', f'{HEADER_LINE}\n"{row}\nNext Co,expense,5,USD,monthly,2027-01-01,,,,\n'):
        (problem,) = problems(text)
        assert str(problem) == ("line 2: this row has 1 cell; the header has 10 "
                                "(a double quote on this line is not closed where its cell ends; close it or take it out)")
    for text in (f"{HEADER_LINE}\n{'A' * 200_000}{row[7:]}\n", f'{HEADER_LINE}\n"{row}\n' + f"{row}\n" * 4000):
        (problem,) = problems(text)
        assert problem.line >= 2 and problem.message == (
            "a cell is longer than 131,072 characters, far more than any column takes "
            "(a double quote that is never closed makes the rest of the file one cell)"), problem


def test_optional_email_and_contact_name_columns_belong_to_the_counterparty() -> None:
    text = f"""{HEADER_LINE},email,contact_name
Acme,revenue,3000,USD,monthly,2026-01-01,,,,, ap@acme.example ,  Jane   Doe
Acme,revenue,90,USD,weekly,2026-01-05,,,,,,
Acme,expense,40,USD,monthly,2026-01-10,,,,,billing@acme-supplies.example,
Landlord LLC,expense,4500,USD,monthly,2026-01-31,,,,,,
"""
    acme, acme_weekly, acme_vendor, landlord = parse_obligations_csv(text)
    assert (acme.email, acme.contact_name, acme.is_client) == ("ap@acme.example", "Jane Doe", True)
    assert (acme_weekly.email, acme_weekly.contact_name) == (None, None)  # empty: leave what is there
    assert (acme_vendor.email, acme_vendor.is_client) == ("billing@acme-supplies.example", False)  # another counterparty
    assert (landlord.email, landlord.contact_name) == (None, None)
    # Like flexibility, the contact does not change which obligation a row is.
    (without,) = parse_obligations_csv(one_row(counterparty="Acme", kind="revenue", amount="3000", start_date="2026-01-01"))
    assert without.import_key == acme.import_key


def test_a_bad_or_contradicting_email_is_named_by_line_and_column() -> None:
    text = f"""{HEADER_LINE},email,contact_name
Acme,revenue,3000,USD,monthly,2026-01-01,,,,,ap@acme,
Cloud Host,expense,1200,USD,monthly,2026-01-15,,,,,ops@cloud.example,Bob
cloud host,expense,60,USD,weekly,2026-01-05,,,,,help@cloud.example,Rob
Printer,expense,50,USD,monthly,2026-01-15,,,,,a b@printer.example,{"x" * 201}
"""
    assert [str(p) for p in problems(text)] == [
        "line 2, column email: I couldn't read 'ap@acme' as an email address; write one address like ap@client.com, or leave it empty",
        "line 4, column email: line 3 says ops@cloud.example for cloud host; give a vendor one email",
        "line 4, column contact_name: line 3 says Bob for cloud host; give a vendor one contact name",
        "line 5, column email: I couldn't read 'a b@printer.example' as an email address; write one address like ap@client.com, or leave it empty",
        "line 5, column contact_name: the contact name is longer than 200 characters; shorten it",
    ]
    (problem,) = problems(f"{HEADER_LINE},e-mail\nAcme,revenue,3000,USD,monthly,2026-01-01,,,,,ap@acme.example\n")
    assert "optionally flexibility, email, contact_name" in problem.message and "unexpected: e-mail" in problem.message


@pytest.mark.parametrize(
    ("words", "kind"),
    [(("revenue", "client", "Customer", "income"), "revenue"), (("expense", "vendor", "Supplier", "bill"), "expense"),
     (("payroll", "salaries"), "payroll"), (("tax", "taxes"), "tax")],
)
def test_the_kind_takes_the_words_slack_takes_and_each_names_one_obligation(words: tuple[str, ...], kind: str) -> None:
    rows = [parse_obligations_csv(one_row(kind=word))[0] for word in words]
    assert {row.kind for row in rows} == {kind}
    assert len({row.import_key for row in rows}) == 1  # `client` and `revenue` rows are the same obligation
    (problem,) = problems(one_row(kind="rent"))
    assert problem.message == (
        "I don't know the kind 'rent'; use revenue, expense, payroll or tax (client, customer, income mean revenue; "
        "bill, supplier, vendor mean expense; salaries mean payroll; taxes mean tax)"
    )


def test_only_the_needed_columns_must_be_there_and_the_currency_may_be_the_accounts() -> None:
    short = "counterparty,kind,amount,frequency,start_date\nLandlord LLC,vendor,4500,monthly,2026-01-31\n"
    (row,) = parse_obligations_csv(short, currency="EUR")
    assert (row.currency, row.end_date, row.day, row.convention, row.calendar) == ("EUR", None, None, BusinessDayConvention.NONE, None)
    assert row.import_key == parse_obligations_csv(one_row(currency="EUR"))[0].import_key
    (empty,) = parse_obligations_csv(one_row(currency=""), currency="GBP")
    assert empty.currency == "GBP"
    # Without the account's currency to fall back on, the column is needed.
    (problem,) = problems(short)
    assert problem.line == 1 and "missing: currency" in problem.message
    assert "only counterparty, kind, amount, frequency, start_date, currency are needed" in problem.message
    assert "missing: start_date" in problems("counterparty,kind,amount,frequency\nA,client,1,once\n")[0].message


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolons_or_tabs_between_cells_are_found_from_the_header(delimiter: str) -> None:
    text = GOOD_FILE.replace('"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"', "RULE").replace('"4,500.00"', "4500.00")
    text = text.replace(",", delimiter).replace("RULE", '"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"')
    assert parse_obligations_csv(text) == parse_obligations_csv(GOOD_FILE)


def test_rows_stream_out_as_they_are_read_and_every_problem_is_still_listed() -> None:
    read: list[str] = []

    def lines() -> Iterator[str]:
        for line in [f"{HEADER_LINE}\n", *(f"Vendor {i},expense,{100 + i},USD,monthly,2026-01-15,,,,\n" for i in range(5)),
                     "Vendor 9,expense,-5,USD,monthly,2026-01-15,,,,\n", "Vendor 10,expense,7,USD,hourly,2026-01-15,,,,\n"]:
            read.append(line)
            yield line

    rows = iter(ObligationsReader(lines()))
    assert next(rows).counterparty == "Vendor 0" and len(read) == 2  # not the whole file first
    assert [row.counterparty for row in itertools.islice(rows, 4)] == ["Vendor 1", "Vendor 2", "Vendor 3", "Vendor 4"]
    with pytest.raises(CsvImportError) as caught:
        next(rows)  # nothing after the first problem; the problems when the file is read
    assert [(p.line, p.column) for p in caught.value.errors] == [(7, "amount"), (8, "frequency")]


@pytest.mark.parametrize(("column", "cell"), [("start_date", "March"), ("start_date", "15 March"), ("end_date", "mar 2027")])
def test_csv_cells_stay_strict_iso_and_refuse_month_words(column: str, cell: str) -> None:
    # A file is read the same on any day: month words (which count from today) belong to typed commands only.
    (problem,) = problems(one_row(**{column: cell}))
    assert problem.column == column
    assert problem.message == f"I couldn't read '{cell}' as a date; write it as YYYY-MM-DD, like 2026-12-01"
