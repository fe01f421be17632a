"""One money formatter for all text (issue 17 item 5, issue 19 item 3): findings, drafted emails and
Slack write amounts alike, with their cents, so "$10,360" never sits beside "$25,640.00"."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.common import money as slack_money
from tamio.detection.findings import money as finding_money
from tamio.money import format_money
from tamio.preparation.message_drafting import _format_amount


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
