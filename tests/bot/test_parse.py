"""The /tamio parser: the forms the issue lists, and fuzzing: it never raises anything but a CommandError."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import parse
from tamio.obligations.recurrence import Frequency

TODAY = date(2026, 11, 30)
WORDS = ["add", "client", "expense", "payroll", "tax", "balance", "set", "paid", "on", "from", "until", "forecast", "config",
         "role", "digest", "here", "monthly", "weekly", "semimonthly", "quarterly", "once", "USD", "EUR", "XYZ", "-1", "15", "31",
         "0", "32", "1,200.50", "12,00.5", "1e9", "NaN", "sNaN", "-Infinity", "payroll_buffer_percent", "-5", "2026-12-01", "2020-01-01", "2026-02-30", "today", "fri",
         "last", "following", "holidays", "GB", "<@U123|maria>", "@maria", "admin", "safety_mode", "buffer", "15%", '"', "'",
         '"Acme Corp"', "“AWS”", "\\", "\x00", "…", "💸", "connect", "sync", "xero", "quickbooks", "token", "list", "revoke",
         "create", "tok_abc123", "rename", '"Acme"', "contact", "ap@acme.example", "<mailto:a@b.co|a@b.co>", "@"]


def read(text: str) -> parse.Command:
    return parse.parse(text, today=TODAY, base_currency="USD")


def test_the_forms_of_the_issue() -> None:
    aws = read('add expense "AWS" 1200 USD monthly on 15 from 2026-12-01')
    assert isinstance(aws, parse.AddObligation) and (aws.kind, aws.amount, aws.currency) == ("expense", Decimal("1200"), "USD")
    assert (aws.recurrence.day, aws.recurrence.start_date) == (15, date(2026, 12, 1))
    acme = read('add client "Acme Corp" 5000 EUR monthly on -1')
    assert isinstance(acme, parse.AddObligation) and (acme.name, acme.recurrence.day) == ("Acme Corp", -1)
    payroll = read('add payroll "Payroll" 42000 semimonthly')
    assert isinstance(payroll, parse.AddObligation) and payroll.recurrence.frequency == Frequency.SEMIMONTHLY
    assert read('balance set "Operating" 45000 USD') == parse.SetBalance("Operating", Decimal("45000"), "USD")
    assert read('paid "Acme Corp" 5000 on 2026-11-03') == parse.RecordPaid("Acme Corp", Decimal("5000"), None, date(2026, 11, 3))
    assert read('paid "Acme" 5000 EUR for INV-1042 on 2026-11-03') == parse.RecordPaid("Acme", Decimal("5000"), "EUR", date(2026, 11, 3), "INV-1042")
    assert read('paid "Acme" 5000 for inv-7') == parse.RecordPaid("Acme", Decimal("5000"), None, TODAY, "inv-7")
    assert read("forecast 8") == parse.ShowForecast(8) and read("") == parse.ShowHelp()
    assert read("role <@U123|maria> approver").slack_user_id == "U123"  # type: ignore[union-attr]
    # Slack escapes &, < and > in what people type: the name is the one they typed.
    harbor = read('add client "Harbor &amp; Pine &lt;HP&gt;" 5000 monthly')
    assert isinstance(harbor, parse.AddObligation) and harbor.name == "Harbor & Pine <HP>"
    assert read('paid "A &amp;amp; B" 10') == parse.RecordPaid("A &amp; B", Decimal("10"), None, TODAY)
    assert isinstance(read("config set safety_mode conservative"), parse.SetConfig)
    assert read("digest here") == parse.DigestHere() and read("add") == parse.OpenAddForm()


def test_the_integration_token_and_rename_forms() -> None:
    assert read("connect xero") == read("connect XERO") == parse.ConnectIntegration("xero")
    assert read("sync") == read("sync xero") == parse.SyncIntegration("xero")
    assert read("token") == read("token create") == parse.CreateToken("")
    assert read('token create "reporting"') == parse.CreateToken("reporting")
    assert read("token list") == parse.ListTokens() and read("token revoke tok_1a2b") == parse.RevokeToken("tok_1a2b")
    assert read('rename client "Acme" "Acme Corp"') == parse.RenameCounterparty("client", "Acme", "Acme Corp")
    assert read('rename vendor "AWS" "Amazon Web Services"') == parse.RenameCounterparty("expense", "AWS", "Amazon Web Services")


def test_the_contact_form_takes_an_address_as_typed_or_as_slack_links_it() -> None:
    acme = parse.SetContact("Acme Corp", "ap@acme.example")
    assert read('contact "Acme Corp" ap@acme.example') == acme
    assert read('contact "Acme Corp" <mailto:ap@acme.example|ap@acme.example>') == acme  # should_escape links addresses
    assert read('contact client "Acme Corp" ap@acme.example "Jane  Doe"') == parse.SetContact("Acme Corp", "ap@acme.example", "client", "Jane Doe")
    assert read('contact vendor "AWS" billing@aws.example') == parse.SetContact("AWS", "billing@aws.example", "expense")
    assert read('contact "Client" ap@client.example "Jo"') == parse.SetContact("Client", "ap@client.example", None, "Jo")


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("launch rockets", "I don't know `launch`"),
        ('add expense "AWS" 12,00.5', "I couldn't read the amount `12,00.5`"),
        ('add expense "AWS" 12 ABC', "`ABC` is not a currency I know"),
        ('add expense "AWS" 12 monthly from 2021-11-29', "more than 5 years ago"),
        ('add client "Acme" invoice 50 weekly', "An invoice is paid once"),
        ('add client "Acme" 50 monthly ref INV-1', "An invoice number goes with a one-off amount"),
        ('add expense "AWS 12', "a quote is not closed"),
        ('add expense "AWS" 12.345 USD', "at most 2 decimal places"),
        ('add expense "AWS" 12 monthly until 2026-12-01 from 2027-01-01', "before the start date"),
        ('paid "Acme" 10 on 2026-12-01', "in the future"),
        ('paid "Acme" 10 for', "I don't understand `for`"),
        ('paid "Acme" 10 for A for B', "I don't understand `for B`"),
        ("connect", "Say what to connect"),
        ("connect quickbooks", "I can't connect `quickbooks`"),
        ("sync xero now", "I can't sync `xero now`"),
        ("token revoke", "I need the id of the token to revoke"),
        ("token revoke <script>", "is not a token id"),
        ("token list all", "I don't understand `list all`"),
        ('rename client "Acme"', "I need the current name and the new name"),
        ('rename robot "A" "B"', "is not something I can rename"),
        ('rename client "Acme" " "', "A name is empty"),
        ("contact", "I need the client's or vendor's name and the email address"),
        ('contact "Acme Corp"', "I need the client's or vendor's name and the email address"),
        ('contact "Acme Corp" ap@acme', "`ap@acme` is not an email address; write it like ap@client.com"),
        ("contact Acme Corp ap@acme.example", "Put the name in double quotes"),
        ('contact "Acme" a@b.example "Jo" extra', "more than a name, an email address and a contact name"),
        ('contact " " ap@acme.example', "The name is empty"),
    ],
)
def test_errors_say_what_was_wrong_and_show_the_right_form(text: str, wrong: str) -> None:
    with pytest.raises(parse.CommandError) as caught:
        read(text)
    assert wrong in str(caught.value)
    assert caught.value.example.startswith("/tamio ") and caught.value.usage


def check(text: str) -> None:
    try:
        command = read(text)
    except parse.CommandError as error:
        assert error.message and error.example.startswith("/tamio ")
        return
    assert isinstance(command, parse.Command.__args__)  # type: ignore[attr-defined]


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=120))
def test_any_text_is_a_command_or_a_command_error(text: str) -> None:
    check(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=12))
def test_any_sequence_of_command_words_is_a_command_or_a_command_error(words: list[str]) -> None:
    check(" ".join(words))


def test_a_client_name_of_several_words_needs_no_quotes() -> None:
    assert read("client Bluebird Studio") == parse.ShowClient("Bluebird Studio")
    assert read('client "Bluebird Studio"') == parse.ShowClient("Bluebird Studio")
    with pytest.raises(parse.CommandError, match="I need a client's name"):
        read('client " "')
