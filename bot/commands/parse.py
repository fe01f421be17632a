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
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final

from bot.commands.forms import (
    USAGES,
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
    ShowAccuracy,
    ShowActions,
    ShowAlerts,
    ShowClient,
    ShowConfig,
    ShowDetection,
    ShowForecast,
    ShowHelp,
    ShowRules,
    ShowWhatIf,
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
from tamio.obligations.adding import AddObligation
from tamio.obligations.inline import looks_like_currency, parse_add, read_day_word, read_kind, split_words
from tamio.scenarios.changes import MAX_CHANGES
from tamio.scenarios.inline import parse_changes

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
        return [_unescape(word) for word in split_words(text)]
    except TamioError as exc:
        raise CommandError(exc.message, usage="add expense \"Name\" 1200", hint=exc.hint,
                           example='/tamio add expense "AWS" 1200 USD monthly on 15') from exc


def _date(token: str, name: str, today: date) -> date:
    try:
        return read_day_word(token, today)
    except TamioError as exc:
        raise _fail(name, exc.message, hint=exc.hint) from exc


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


def parse(text: str, *, today: date, base_currency: str) -> Command:
    words = tokenize(text)
    if not words:
        return ShowHelp()
    if words[0].lower() == "whatif":
        return _what_if(text.split(None, 1)[1] if len(words) > 1 else "", today, base_currency)
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


def _what_if(rest: str, today: date, base_currency: str) -> ShowWhatIf:
    """Changes separated by `;`, each read by the core's what-if reader (its messages, Slack's usage)."""
    texts = tuple(_unescape_text(part.strip()) for part in rest.split(";") if part.strip())
    if not texts:
        raise _fail("whatif", "Say what to try.", hint='For example `late "Acme Corp" 30`.')
    if len(texts) > MAX_CHANGES:
        raise _fail("whatif", f"That is {len(texts)} changes; try at most {MAX_CHANGES} at once.")
    try:
        parse_changes(list(texts), today=today, base_currency=base_currency)
    except TamioError as exc:
        raise _fail("whatif", exc.message, hint=exc.hint) from exc
    return ShowWhatIf(texts)


def _unescape_text(text: str) -> str:
    return SLACK_ENTITIES.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


def _no_args(name: str, rest: list[str], command: Command) -> Command:
    if rest:
        raise _fail(name, f"`{name}` takes nothing after it.")
    return command


def _forecast(rest: list[str]) -> ShowForecast | ShowAccuracy:
    if not rest:
        return ShowForecast()
    if rest[0].lower() == "accuracy":
        if len(rest) == 1:
            return ShowAccuracy()
        if len(rest) > 2 or not rest[1].isdigit() or not 1 <= int(rest[1]) <= 104:
            raise _fail("forecast", f"`{' '.join(rest[1:])[:40]}` is not a number of weeks to look back.",
                        hint="Use a whole number from 1 to 104, like `/tamio forecast accuracy 26`.")
        return ShowAccuracy(int(rest[1]))
    if len(rest) > 1 or not rest[0].isdigit() or not 1 <= int(rest[0]) <= 52:
        raise _fail("forecast", f"`{' '.join(rest)[:40]}` is not a number of weeks.", hint="Use a whole number from 1 to 52.")
    return ShowForecast(int(rest[0]))


def _add(rest: list[str], today: date, base_currency: str) -> OpenAddForm | AddObligation:
    """The words are the core's (``tamio.obligations.inline``); Slack adds the usage and an example."""
    try:
        if not rest:
            return OpenAddForm()
        if len(rest) == 1:
            return OpenAddForm(read_kind(rest[0]))
        return parse_add(rest, today=today, base_currency=base_currency)
    except TamioError as exc:
        raise _fail("add", exc.message, hint=exc.hint) from exc


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
    if words and looks_like_currency(words[0]) and words[0].lower() not in ("on", "for"):
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
    "chase_cooloff_days": "a number of days, 0 to 365",
    "dual_approval_threshold": "an amount, e.g. 10000",
    "base_currency": "a currency code, e.g. USD",
    "timezone": "a time zone, e.g. Europe/London",
    "locale": "a locale for amounts and dates, e.g. en_US, en_GB, de_DE",
    "viewers_see_figures": "on or off",
}
SWITCHES: Final = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
CONFIG_ALIASES: Final = {"buffer": "obligations_buffer_amount", "currency": "base_currency", "tz": "timezone"}
INT_RANGES: Final = {"runway_buffer_months": (0, 60), "late_payment_threshold_days": (0, 365), "payroll_check_days_before": (0, 60),
                     "chase_cooloff_days": (0, 365)}


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
    "ShowAccuracy",
    "ShowClient",
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
    "SetClientRelationship",
    "SetVendorTerms",
    "ShowDetection",
    "SetDetection",
    "Command",
    "parse",
    "tokenize",
]
