"""One money formatter for all text (issue 17 item 5, issue 19 item 3): findings, drafted emails and
Slack write amounts alike, with their cents, so "$10,360" never sits beside "$25,640.00"."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.common import money as slack_money
from tamio.detection.findings import money as finding_money
from tamio.money import format_money
from tamio.preparation.draft_values import _format_amount


def test_whole_amounts_keep_their_cents_everywhere() -> None:
    assert format_money(Decimal("10360"), "USD") == "$10,360.00"
    assert slack_money(Decimal("10360"), "USD") == finding_money(Decimal("10360"), "USD") == "$10,360.00"
    assert _format_amount(Decimal("25640"), "USD") == "$25,640.00"
    assert format_money(Decimal("-19400"), "USD") == "-$19,400.00"
    assert format_money(Decimal("120000"), "JPY") == "¥120,000" and format_money(Decimal("1.005"), "KWD") == "KWD1.005"


@given(st.integers(-10**14, 10**14), st.sampled_from(["USD", "EUR", "GBP", "JPY", "KWD", "CHF", "INR"]))
def test_the_fast_path_writes_what_babel_writes(minor: int, currency: str) -> None:
    from babel.numbers import format_currency

    from tamio.money import quantize

    amount = Decimal(minor) / 1000
    value = quantize(amount, currency)
    if value:  # babel writes a rounded-away minus ("-$0.00"); the one formatter does not
        assert format_money(amount, currency) == str(format_currency(value, currency, locale="en_US"))
    else:
        assert format_money(amount, currency).startswith(("$0", "€0", "£0", "¥0", "KWD0", "CHF0", "₹0"))
    assert finding_money(amount, currency) == _format_amount(amount, currency, allow_negative=True) == format_money(amount, currency)


def test_labels_that_do_not_fit_are_shortened_at_a_word_not_mid_word() -> None:
    from bot.blocks.common import OPTION_TEXT_MAX, cut, option

    title = "1. Send Northwind Traders International a reminder with a professional email about invoice 1042"
    shown = option(title, "o1")["text"]["text"]
    assert len(shown) <= OPTION_TEXT_MAX and shown.endswith("…") and shown[:-1] == title[: len(shown) - 1]
    assert title[len(shown) - 1] == " "  # cut where a word ends
    assert cut("Supercalifragilisticexpialidocious", 10) == "Supercali…"


def test_amounts_are_read_by_one_reader_in_slack_the_csv_and_automation_rules() -> None:
    import pytest

    from tamio.errors import ValidationError
    from tamio.execution.automation import _amount
    from tamio.money import AmountProblem, parse_amount, read_amount
    from tamio.obligations.csv_cells import BadCell
    from tamio.obligations.csv_cells import read_amount as read_cell

    for typed in ("1,200.50", "$1,200.50", " 1200.5 "):
        assert parse_amount(typed) == read_cell(typed, "USD") == _amount(typed) == read_amount(typed) == Decimal("1200.50")
    for bad in ("12,00.5", "١٢٠٠", "1e5", "99999999999999999"):
        with pytest.raises(AmountProblem):
            read_amount(bad)
        with pytest.raises(ValidationError):
            parse_amount(bad)
        with pytest.raises(ValidationError):
            _amount(bad)  # an automation threshold once took "1e5" and Arabic-Indic digits
        with pytest.raises(BadCell):
            read_cell(bad, "USD")
    assert _amount("0") == Decimal("0")
