"""Reading ``/tamio ...``: words in, a typed command out, or an error that shows the right form.

Pure: no database, no Slack. ``today`` and the account's base currency are arguments. Quotes group
words (``shlex``), and the curly quotes Slack's clients type are read as straight ones. Anything
wrong raises ``CommandError`` (a ``ValidationError``) saying what was wrong and showing the usage
and a working example; nothing else escapes (the hypothesis test in tests/bot checks it).

    parse('add expense "AWS" 1200 USD monthly on 15 from 2026-12-01', today=date(2026, 11, 30), base_currency="USD")
    -> AddObligation(kind='expense', name='AWS', amount=Decimal('1200'), currency='USD', ...)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

from bot.commands.forms import (
    USAGES,
    AddObligation,
    Command,
    CommandError,
    ConnectIntegration,
    CreateToken,
    DigestHere,
    ListBalances,
    ListTokens,
    OpenAddForm,
    RecordPaid,
    RenameCounterparty,
    RevokeToken,
    RunPipeline,
    SetBalance,
    SetClientRelationship,
    SetConfig,
    SetContact,
    SetDetection,
    SetRate,
    SetRole,
    SetRule,
    SetVendorTerms,
    ShowActions,
    ShowAlerts,
    ShowClient,
    ShowConfig,
    ShowDetection,
    ShowForecast,
    ShowHelp,
    ShowRules,
    SyncIntegration,
    Usage,
)
from bot.commands.parse_more import (
    read_connect,
    read_contact,
    read_rate,
    read_rename,
    read_rules,
    read_sync,
    read_token,
)
from bot.commands.parse_profile import read_client, read_detection, read_vendor
from tamio.accounts.models import Role, SafetyMode
from tamio.errors import TamioError
from tamio.money import normalize_currency, parse_amount
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, check_calendar
from tamio.obligations.schemas import RecurrenceSpec

KIND_ALIASES: Final = {
    "client": "client", "revenue": "client", "income": "client", "customer": "client",
    "expense": "expense", "vendor": "expense", "bill": "expense", "supplier": "expense",
    "payroll": "payroll", "salaries": "payroll", "tax": "tax", "taxes": "tax",
}
FREQUENCY_ALIASES: Final = {
    "once": Frequency.ONCE, "one-off": Frequency.ONCE, "weekly": Frequency.WEEKLY, "biweekly": Frequency.BIWEEKLY,
    "fortnightly": Frequency.BIWEEKLY, "semimonthly": Frequency.SEMIMONTHLY, "semi-monthly": Frequency.SEMIMONTHLY,
    "monthly": Frequency.MONTHLY, "quarterly": Frequency.QUARTERLY, "annually": Frequency.ANNUALLY,
    "yearly": Frequency.ANNUALLY,
}
CONVENTION_ALIASES: Final = {
    "following": BusinessDayConvention.FOLLOWING, "preceding": BusinessDayConvention.PRECEDING,
    "modified_following": BusinessDayConvention.MODIFIED_FOLLOWING, "modified-following": BusinessDayConvention.MODIFIED_FOLLOWING,
}
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_OF_MONTH: Final = {Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY}
SMART_QUOTES: Final = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})
MENTION: Final = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")



# -- reading ----------------------------------------------------------------------------------


def _fail(name: str, message: str, hint: str | None = None) -> CommandError:
    usage = USAGES[name]
    return CommandError(message, usage=usage.usage, example=usage.example, hint=hint)


SLACK_ENTITIES: Final = re.compile(r"&(amp|lt|gt);")


def _unescape(word: str) -> str:
    """Slack sends &, < and > typed in a command as &amp;, &lt; and &gt; (its markup, like <@U1|maria>, stays)."""
    if word.startswith("<") and word.endswith(">"):
        return word
    return SLACK_ENTITIES.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], word)


def tokenize(text: str) -> list[str]:
    try:
        return [_unescape(word) for word in shlex.split(text.translate(SMART_QUOTES))]
    except ValueError as exc:
        reason = "a quote is not closed" if "quotation" in str(exc) else "a backslash is at the very end"
        raise CommandError(
            f"I couldn't read that: {reason}.", usage="add expense \"Name\" 1200", hint="Put names in straight double quotes.",
            example='/tamio add expense "AWS" 1200 USD monthly on 15',
        ) from exc


def read_date(token: str, name: str) -> date:
    try:
        return date.fromisoformat(token)
    except ValueError as exc:
        raise _fail(name, f"I couldn't read the date `{token}`.", hint="Write dates like 2026-12-01.") from exc


def _date(token: str, name: str, today: date) -> date:
    offsets = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if token.lower() in offsets:
        return today + timedelta(days=offsets[token.lower()])
    return read_date(token, name)


def _amount(token: str, currency: str | None, name: str) -> Decimal:
    try:
        return parse_amount(token, currency=currency)
    except TamioError as exc:
        raise _fail(name, exc.message, hint=exc.hint) from exc


def _currency(token: str, name: str) -> str:
    try:
        return normalize_currency(token)
    except TamioError as exc:
        raise _fail(name, exc.message, hint=exc.hint) from exc


def _looks_like_currency(token: str) -> bool:
    return len(token) == 3 and token.isalpha() and token.lower() not in FREQUENCY_ALIASES


def parse(text: str, *, today: date, base_currency: str) -> Command:
    words = tokenize(text)
    if not words:
        return ShowHelp()
    name, rest = words[0].lower(), words[1:]
    readers: dict[str, Callable[[], Command]] = {
        "help": lambda: ShowHelp(),
        "forecast": lambda: _forecast(rest),
        "add": lambda: _add(rest, today, base_currency),
        "balance": lambda: _balance(rest, base_currency),
        "balances": lambda: _balance(rest, base_currency),
        "paid": lambda: _paid(rest, today),
        "alerts": lambda: _no_args("alerts", rest, ShowAlerts()),
        "actions": lambda: _no_args("actions", rest, ShowActions()),
        "run": lambda: _no_args("run", rest, RunPipeline()),
        "config": lambda: _config(rest),
        "digest": lambda: _digest(rest),
        "role": lambda: _role(rest),
        "rename": lambda: read_rename(rest),
        "contact": lambda: read_contact(rest),
        "connect": lambda: read_connect(rest),
        "sync": lambda: read_sync(rest),
        "rate": lambda: read_rate(rest, base_currency),
        "token": lambda: read_token(rest),
        "tokens": lambda: read_token(rest),
        "rules": lambda: read_rules(rest),
        "client": lambda: read_client(rest),
        "vendor": lambda: read_vendor(rest),
        "detection": lambda: read_detection(rest),
    }
    reader = readers.get(name)
    if reader is None:
        known = ", ".join(f"`{n}`" for n in USAGES)
        raise CommandError(f"I don't know `{words[0][:40]}`.", usage="help", example="/tamio help", hint=f"Try one of {known}.")
    return reader()


def _no_args(name: str, rest: list[str], command: Command) -> Command:
    if rest:
        raise _fail(name, f"`{name}` takes nothing after it.")
    return command


def _forecast(rest: list[str]) -> ShowForecast:
    if not rest:
        return ShowForecast()
    if len(rest) > 1 or not rest[0].isdigit() or not 1 <= int(rest[0]) <= 52:
        raise _fail("forecast", f"`{' '.join(rest)[:40]}` is not a number of weeks.", hint="Use a whole number from 1 to 52.")
    return ShowForecast(int(rest[0]))


def _add(rest: list[str], today: date, base_currency: str) -> OpenAddForm | AddObligation:
    if not rest:
        return OpenAddForm()
    kind = KIND_ALIASES.get(rest[0].lower())
    if kind is None:
        raise _fail("add", f"`{rest[0][:40]}` is not something I can add.", hint="Say `client`, `expense`, `payroll` or `tax`.")
    if len(rest) == 1:
        return OpenAddForm(kind)
    if len(rest) < 3:
        raise _fail("add", "I need a name in quotes and an amount.")
    name, amount_token, words = rest[1].strip(), rest[2], rest[3:]
    if not name:
        raise _fail("add", "The name is empty.")
    currency: str | None = None
    if words and _looks_like_currency(words[0]):
        currency = _currency(words[0], "add")
        words = words[1:]
    currency = currency or base_currency
    amount = _amount(amount_token, currency, "add")
    frequency = Frequency.MONTHLY
    day: int | None = None
    weekday: int | None = None
    last_business_day = False
    start: date | None = None
    end: date | None = None
    convention = BusinessDayConvention.NONE
    calendar: str | None = None
    i = 0
    while i < len(words):
        word = words[i].lower()
        following = words[i + 1] if i + 1 < len(words) else None
        if word in FREQUENCY_ALIASES:
            frequency = FREQUENCY_ALIASES[word]
        elif word in CONVENTION_ALIASES:
            convention = CONVENTION_ALIASES[word]
        elif word in ("on", "from", "starting", "until", "to", "holidays") and following is None:
            raise _fail("add", f"`{word}` needs something after it.")
        elif word == "on":
            day, weekday, last_business_day = _day(str(following))
            i += 1
        elif word in ("from", "starting"):
            start = _date(str(following), "add", today)
            i += 1
        elif word in ("until", "to"):
            end = _date(str(following), "add", today)
            i += 1
        elif word == "holidays":
            try:
                calendar = check_calendar(following)
            except TamioError as exc:
                raise _fail("add", exc.message) from exc
            i += 1
        elif _looks_like_currency(word):
            raise _fail("add", f"`{words[i]}` is in the wrong place.", hint="The currency comes right after the amount.")
        else:
            raise _fail("add", f"I don't understand `{words[i][:40]}`.")
        i += 1
    if start is not None and start < today:
        raise _fail("add", f"The start date {start.isoformat()} is in the past.", hint=f"Use today ({today.isoformat()}) or a later date.")
    start = start or today
    if weekday is not None:
        if frequency not in (Frequency.WEEKLY, Frequency.BIWEEKLY):
            raise _fail("add", "A weekday applies to weekly and biweekly schedules only.")
        start = start + timedelta(days=(weekday - start.weekday()) % 7)
    if day is not None and frequency not in DAY_OF_MONTH:
        raise _fail("add", f"`on {day}` applies to monthly, quarterly and annual schedules only.",
                    hint="Leave it out, or say the weekday for weekly ones: `weekly on fri`.")
    if end is not None and end < start:
        raise _fail("add", f"The end date {end.isoformat()} is before the start date {start.isoformat()}.")
    spec = RecurrenceSpec(frequency=frequency, start_date=start, end_date=end, day=day, convention=convention,
                          calendar=calendar, last_business_day=last_business_day)
    try:
        spec.rrule()
    except TamioError as exc:
        raise _fail("add", exc.message[:1].upper() + exc.message[1:] + ".") from exc
    return AddObligation(kind=kind, name=name, amount=amount, currency=currency, recurrence=spec)


def _day(token: str) -> tuple[int | None, int | None, bool]:
    """``on 15``, ``on -1`` / ``on last``, ``on last-business-day``, ``on fri``: (day, weekday, last business day)."""
    lowered = token.lower()
    if lowered in ("last", "end"):
        return -1, None, False
    if lowered in ("last-business-day", "last_business_day", "lbd"):
        return None, None, True
    if lowered[:3] in WEEKDAYS and lowered.isalpha():
        return None, WEEKDAYS.index(lowered[:3]), False
    if re.fullmatch(r"-?\d{1,2}", lowered) and (1 <= int(lowered) <= 31 or int(lowered) == -1):
        return int(lowered), None, False
    raise _fail("add", f"`on {token[:20]}` is not a day I can use.", hint="Use 1 to 31, -1 (or `last`) for the last day, or a weekday.")


def _balance(rest: list[str], base_currency: str) -> ListBalances | SetBalance:
    if not rest:
        return ListBalances()
    if rest[0].lower() != "set":
        raise _fail("balance", f"I don't understand `{rest[0][:40]}`.")
    if len(rest) < 3:
        raise _fail("balance", "I need the account's name in quotes and its balance.")
    name = rest[1].strip()
    if not name:
        raise _fail("balance", "The account name is empty.")
    currency = _currency(rest[3], "balance") if len(rest) > 3 else base_currency
    if len(rest) > 4:
        raise _fail("balance", f"I don't understand `{rest[4][:40]}`.")
    try:
        amount = parse_amount(rest[2], currency=currency, allow_negative=True)
    except TamioError as exc:
        raise _fail("balance", exc.message, hint=exc.hint) from exc
    return SetBalance(name=name, amount=amount, currency=currency)


def _paid(rest: list[str], today: date) -> RecordPaid:
    if len(rest) < 2:
        raise _fail("paid", "I need who paid (or was paid) in quotes and the amount.")
    name, words = rest[0].strip(), rest[2:]
    if not name:
        raise _fail("paid", "The name is empty.")
    currency = None
    if words and _looks_like_currency(words[0]) and words[0].lower() not in ("on", "for"):
        currency = _currency(words[0], "paid")
        words = words[1:]
    amount = _amount(rest[1], currency, "paid")
    on, invoice = today, None
    options: dict[str, str] = {}
    while words:
        keyword = words[0].lower()
        if keyword not in ("on", "for") or len(words) < 2 or keyword in options:
            raise _fail("paid", f"I don't understand `{' '.join(words)[:40]}`.")
        options[keyword], words = words[1], words[2:]
    if "on" in options:
        on = _date(options["on"], "paid", today)
        if on > today:
            raise _fail("paid", f"{on.isoformat()} is in the future; record a payment once it has happened.",
                        hint=f"Use today ({today.isoformat()}) or an earlier date.")
    if "for" in options:
        invoice = options["for"].strip()
        if not invoice:
            raise _fail("paid", "The invoice after `for` is empty.", hint="Write its number, like INV-1042.")
    return RecordPaid(name=name, amount=amount, currency=currency, on=on, invoice=invoice)


CONFIG_KEYS: Final = {
    "safety_mode": "one of conservative, normal, aggressive",
    "obligations_buffer_amount": "an amount, e.g. 10000",
    "runway_buffer_months": "a number of months, 0 to 60",
    "late_payment_threshold_days": "a number of days, 0 to 365",
    "unexpected_expense_threshold_pct": "a percentage, e.g. 20",
    "payroll_check_days_before": "a number of days, 0 to 60",
    "payroll_buffer_percent": "a percentage, e.g. 10",
    "payment_cluster_threshold_pct": "a percentage, e.g. 40",
    "dual_approval_threshold": "an amount, e.g. 10000",
    "base_currency": "a currency code, e.g. USD",
    "timezone": "a time zone, e.g. Europe/London",
    "locale": "a locale for amounts and dates, e.g. en_US, en_GB, de_DE",
    "viewers_see_figures": "on or off",
}
SWITCHES: Final = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
CONFIG_ALIASES: Final = {"buffer": "obligations_buffer_amount", "currency": "base_currency", "tz": "timezone"}
INT_RANGES: Final = {"runway_buffer_months": (0, 60), "late_payment_threshold_days": (0, 365), "payroll_check_days_before": (0, 60)}


def _config(rest: list[str]) -> ShowConfig | SetConfig:
    if not rest:
        return ShowConfig()
    if rest[0].lower() != "set" or len(rest) != 3:
        raise _fail("config", "I need `set`, a setting and its value.", hint="Say `/tamio config` to see the settings.")
    key = CONFIG_ALIASES.get(rest[1].lower(), rest[1].lower())
    raw = rest[2]
    if key not in CONFIG_KEYS:
        raise _fail("config", f"`{rest[1][:40]}` is not a setting.", hint="Settings: " + ", ".join(f"`{k}`" for k in CONFIG_KEYS) + ".")
    wrong = _fail("config", f"`{raw[:40]}` is not a valid {key}.", hint=f"It takes {CONFIG_KEYS[key]}.")
    value: object
    if key == "safety_mode":
        try:
            value = SafetyMode(raw.lower())
        except ValueError as exc:
            raise wrong from exc
    elif key in INT_RANGES:
        low, high = INT_RANGES[key]
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise wrong
        value = int(raw)
    elif key.endswith(("_pct", "_percent")):
        try:
            value = Decimal(raw.removesuffix("%"))
        except InvalidOperation as exc:
            raise wrong from exc
        if not value.is_finite() or not Decimal(0) <= value <= Decimal(1000):
            raise wrong
    elif key in ("obligations_buffer_amount", "dual_approval_threshold"):
        try:
            value = parse_amount(raw, allow_negative=True)
        except TamioError as exc:
            raise wrong from exc
        if value < 0:
            raise wrong
    elif key == "base_currency":
        value = _currency(raw, "config")
    elif key == "viewers_see_figures":
        if raw.lower() not in SWITCHES:
            raise wrong
        value = SWITCHES[raw.lower()]
    else:
        value = raw
    return SetConfig(key=key, value=value)


def _digest(rest: list[str]) -> DigestHere:
    if [w.lower() for w in rest] != ["here"]:
        raise _fail("digest", "Say `digest here` in the channel that should get alerts and the digest.")
    return DigestHere()


def _role(rest: list[str]) -> SetRole:
    if len(rest) != 2:
        raise _fail("role", "I need a person and a role.")
    match = MENTION.match(rest[0])
    if match is None:
        raise _fail("role", f"`{rest[0][:40]}` is not a mention.", hint="Type @ and pick the person so Slack links their name.")
    try:
        role = Role(rest[1].lower())
    except ValueError as exc:
        raise _fail("role", f"`{rest[1][:40]}` is not a role.", hint="Use approver, admin or viewer.") from exc
    return SetRole(slack_user_id=match.group(1), role=role)


__all__ = [
    "CommandError",
    "Usage",
    "USAGES",
    "ShowHelp",
    "ShowForecast",
    "OpenAddForm",
    "AddObligation",
    "ListBalances",
    "SetBalance",
    "RecordPaid",
    "ShowAlerts",
    "ShowActions",
    "RunPipeline",
    "ShowConfig",
    "SetConfig",
    "DigestHere",
    "SetRole",
    "RenameCounterparty",
    "SetContact",
    "ConnectIntegration",
    "SyncIntegration",
    "CreateToken",
    "ListTokens",
    "RevokeToken",
    "SetRate",
    "ShowRules",
    "SetRule",
    "ShowClient",
    "SetClientRelationship",
    "SetVendorTerms",
    "ShowDetection",
    "SetDetection",
    "Command",
    "parse",
    "tokenize",
]
