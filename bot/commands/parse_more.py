"""Reading ``/tamio rename``, ``contact``, ``connect``, ``sync``, ``token``, ``rate`` and ``rules`` (the rest is in ``bot.commands.parse``).

Pure, like the parser: words in (already split by ``parse.tokenize``), a typed command or a
``CommandError`` showing the right form out.

    read_token(["revoke", "tok_1a2b"]) -> RevokeToken(token_id='tok_1a2b')
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from bot.commands.forms import (
    INTEGRATIONS,
    USAGES,
    CommandError,
    ConnectIntegration,
    CreateToken,
    ListTokens,
    RenameCounterparty,
    RevokeToken,
    SetContact,
    SetRate,
    SetRule,
    ShowRules,
    SyncIntegration,
)
from tamio.errors import TamioError, ValidationError
from tamio.execution.policy import RULE_NAMES, rule_name_for
from tamio.limits import check_rate
from tamio.money import normalize_currency, parse_amount
from tamio.obligations.counterparties import read_contact_name, read_email

RATE: Final = re.compile(r"^[0-9]{1,10}(?:\.[0-9]{1,12})?$")  # ASCII digits, a decimal point: 1.12, 0.0062

TOKEN_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# An address typed in a command arrives as Slack's link markup (should_escape): <mailto:ap@acme.example|ap@acme.example>.
MAILTO: Final = re.compile(r"^<mailto:([^|>]*)(?:\|[^>]*)?>$", re.IGNORECASE)
# What can be renamed: clients, and expense buckets (vendors, payroll and taxes alike).
RENAME_KINDS: Final = {
    "client": "client", "revenue": "client", "income": "client", "customer": "client",
    "expense": "expense", "vendor": "expense", "bill": "expense", "supplier": "expense",
    "payroll": "expense", "salaries": "expense", "tax": "expense", "taxes": "expense",
}


def _fail(name: str, message: str, hint: str | None = None) -> CommandError:
    usage = USAGES[name]
    return CommandError(message, usage=usage.usage, example=usage.example, hint=hint)


def read_rename(rest: list[str]) -> RenameCounterparty:
    if not rest:
        raise _fail("rename", "I need `client` or `expense`, the current name and the new name.")
    kind = RENAME_KINDS.get(rest[0].lower())
    if kind is None:
        raise _fail("rename", f"`{rest[0][:40]}` is not something I can rename.", hint="Say `client` or `expense`.")
    if len(rest) != 3:
        raise _fail("rename", "I need the current name and the new name, each in quotes.")
    name, new_name = rest[1].strip(), rest[2].strip()
    if not name or not new_name:
        raise _fail("rename", "A name is empty.")
    if len(new_name) > 200:
        raise _fail("rename", "The new name is too long.", hint="Use at most 200 characters.")
    return RenameCounterparty(kind=kind, name=name, new_name=new_name)


def _address(word: str) -> str:
    found = MAILTO.match(word)
    return found.group(1) if found else word


def read_contact(rest: list[str]) -> SetContact:
    kind = None
    if len(rest) >= 3 and rest[0].lower() in RENAME_KINDS and "@" not in rest[1]:
        kind, rest = RENAME_KINDS[rest[0].lower()], rest[1:]
    if len(rest) < 2:
        raise _fail("contact", "I need the client's or vendor's name and the email address.")
    at = next((i for i, word in enumerate(rest) if "@" in word), None)
    if at is not None and at > 1:
        raise _fail("contact", "I couldn't tell where the name ends.", hint='Put the name in double quotes, like `/tamio contact "Acme Corp" ap@acme.example`.')
    if len(rest) > 3:
        raise _fail("contact", "That is more than a name, an email address and a contact name.", hint="Put names in double quotes.")
    name = rest[0].strip()
    if not name:
        raise _fail("contact", "The name is empty.")
    try:
        email = read_email(_address(rest[1]))
        contact_name = read_contact_name(rest[2]) if len(rest) == 3 else None
    except ValidationError as exc:
        raise _fail("contact", exc.message) from exc
    return SetContact(name=name, email=email, kind=kind, contact_name=contact_name)


def _integration(name: str, rest: list[str]) -> str:
    if len(rest) > 1 or (rest and rest[0].lower() not in INTEGRATIONS):
        what = " ".join(rest)[:40]
        raise _fail(name, f"I can't {name} `{what}`.", hint="Tamio works with Xero so far: say `xero`.")
    return rest[0].lower() if rest else INTEGRATIONS[0]


def read_connect(rest: list[str]) -> ConnectIntegration:
    if not rest:
        raise _fail("connect", "Say what to connect.", hint="Tamio works with Xero so far: `/tamio connect xero`.")
    return ConnectIntegration(_integration("connect", rest))


def read_sync(rest: list[str]) -> SyncIntegration:
    return SyncIntegration(_integration("sync", rest))


def read_token(rest: list[str]) -> CreateToken | ListTokens | RevokeToken:
    action = rest[0].lower() if rest else "create"
    if action == "create" and len(rest) <= 2:
        name = rest[1].strip() if len(rest) == 2 else ""
        if len(name) > 200:
            raise _fail("token", "A token name has at most 200 characters.")
        return CreateToken(name)
    if action == "list" and len(rest) == 1:
        return ListTokens()
    if action == "revoke":
        if len(rest) != 2:
            raise _fail("token", "I need the id of the token to revoke.", hint="`/tamio token list` shows the ids.")
        if not TOKEN_ID.match(rest[1]):
            raise _fail("token", f"`{rest[1][:40]}` is not a token id.", hint="`/tamio token list` shows the ids.")
        return RevokeToken(rest[1])
    raise _fail("token", f"I don't understand `{' '.join(rest)[:40]}`.", hint="Say `token`, `token list` or `token revoke ID`.")


def read_rate(rest: list[str], base_currency: str) -> SetRate:
    """``rate CHF 1.12``: 1 CHF is worth 1.12 of the workspace's base currency."""
    if len(rest) != 2:
        raise _fail("rate", "I need a currency and what one of it is worth in yours.",
                    hint=f"Like `rate CHF 1.12` when 1 CHF buys 1.12 {base_currency}.")
    try:
        currency = normalize_currency(rest[0])
    except TamioError as exc:
        raise _fail("rate", exc.message, hint=exc.hint) from exc
    if currency == base_currency:
        raise _fail("rate", f"{currency} is this workspace's own currency; one {currency} is always worth one.")
    if not RATE.fullmatch(rest[1]):
        raise _fail("rate", f"I couldn't read the rate `{rest[1][:40]}`.", hint="Write it with digits and a point, like 1.12 or 0.0062.")
    try:
        rate = check_rate(Decimal(rest[1]))
    except TamioError as exc:
        raise _fail("rate", exc.message) from exc
    return SetRate(currency=currency, rate=rate)
def read_rules(rest: list[str]) -> ShowRules | SetRule:
    """``rules`` lists them; ``rules set RULE auto on|off [threshold AMOUNT|none] [currency CUR]`` changes one."""
    if not rest:
        return ShowRules()
    if rest[0].lower() != "set" or len(rest) < 2:
        raise _fail("rules", "I need `set` and a rule.", hint="Say `/tamio rules` to see them.")
    rule = rest[1].lower()
    if rule_name_for(rule) is None:
        raise _fail("rules", f"`{rest[1][:40]}` is not a rule.", hint="Rules: " + ", ".join(f"`{r}`" for r in sorted(RULE_NAMES)) + ".")
    words, changes = rest[2:], []
    if not words or len(words) % 2:
        raise _fail("rules", "Say what to change: `auto on|off`, `threshold AMOUNT|none` or `currency CUR`.")
    for key, value in zip(words[0::2], words[1::2], strict=True):
        key, low = key.lower(), value.lower()
        if key == "auto" and low in ("on", "off"):
            changes.append(("auto_execute", low == "on"))
        elif key == "threshold":
            try:
                changes.append(("threshold_amount", None if low == "none" else parse_amount(value)))
            except TamioError as exc:
                raise _fail("rules", f"`{value[:40]}` is not an amount.", hint="Write it like `5000`, or `none` for any amount.") from exc
        elif key == "currency":
            try:
                changes.append(("threshold_currency", normalize_currency(value)))
            except TamioError as exc:
                raise _fail("rules", f"`{value[:40]}` is not a currency.", hint="Write a code like `USD`.") from exc
        else:
            raise _fail("rules", f"I can't read `{key[:40]} {value[:40]}`.", hint="Use `auto on|off`, `threshold AMOUNT|none` or `currency CUR`.")
    return SetRule(rule=rule, changes=tuple(changes))
