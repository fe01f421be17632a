"""Reading a what-if change as people type it, the same in Slack, the CLI and the API.

    late "Acme Corp" 30                  Acme pays 30 days later than it usually does
    lose "Acme Corp"                     Acme never pays again
    remove "Cloud Host"                  cancel what Cloud Host is owed or owes from today
    pause "Cloud Host"                   pause it (what is already due still counts)
    change "Cloud Host" amount 2500      a new amount for its future payments
    change "Cloud Host" date 2027-01-15  its next payment on another day (also: move "Cloud Host" to DATE)
    once in|out 5000 on 2027-01-15       money in or out once
    draw "Credit line" 5000 [on DATE]    a draw on a credit line (today by default), repaid like the action's
    balance "Operating" 45000            a cash account's balance set
    expense "New hire" 8000 monthly from 2027-03-01    anything ``/tamio add`` takes (client, expense,
                                                       payroll, tax; ``hire`` is payroll)

Pure: ``today`` and the base currency are arguments. Anything wrong raises ``ValidationError``
saying what was wrong, with the usage and a working example.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Final

from pydantic import ValidationError as PydanticError

from tamio.errors import TamioError, ValidationError
from tamio.money import parse_amount
from tamio.obligations.inline import KIND_ALIASES, SYNTAX, parse_add, read_day_word, split_words
from tamio.scenarios.changes import (
    MAX_LATE_DAYS,
    AddObligation,
    Balance,
    Change,
    ChangeAmount,
    Draw,
    Late,
    Lose,
    Move,
    OneOff,
    Pause,
    Remove,
)

USAGES: Final = {
    "late": ('late "Client" DAYS', 'late "Acme Corp" 30'),
    "lose": ('lose "Client"', 'lose "Acme Corp"'),
    "remove": ('remove "Name"', 'remove "Cloud Host"'),
    "pause": ('pause "Name"', 'pause "Cloud Host"'),
    "change": ('change "Name" amount AMOUNT | change "Name" date DATE', 'change "Cloud Host" amount 2500'),
    "move": ('move "Name" to DATE', 'move "Cloud Host" to 2027-01-15'),
    "once": ("once in|out AMOUNT on DATE", "once out 2500 on 2027-01-15"),
    "draw": ('draw "Credit line" AMOUNT [on DATE]', 'draw "Credit line" 5000 on 2027-01-04'),
    "balance": ('balance "Cash account" AMOUNT', 'balance "Operating" 45000'),
    "add": (SYNTAX, 'expense "New hire" 8000 monthly from 2027-03-01'),
}
ADD_KINDS: Final = {*KIND_ALIASES, "hire"}  # ``hire "Engineer" 8000 monthly`` is payroll

def _fail(kind: str, message: str, hint: str | None = None) -> ValidationError:
    usage, example = USAGES[kind]
    return ValidationError(message, hint=f"{hint + ' ' if hint else ''}Write it as `{usage}`, e.g. `{example}`.")


def _date(token: str, kind: str, today: date) -> date:
    try:
        return read_day_word(token, today)
    except TamioError as exc:
        raise _fail(kind, exc.message, hint=exc.hint) from exc


def _amount(token: str, kind: str, currency: str) -> Decimal:
    try:
        return parse_amount(token, currency=currency)
    except TamioError as exc:
        raise _fail(kind, exc.message, hint=exc.hint) from exc


def _named(kind: str, rest: list[str], count: int) -> list[str]:
    if len(rest) < count:
        raise _fail(kind, f"`{kind}` needs {'a name in quotes' if count == 1 else 'a name in quotes and more after it'}.")
    if len(rest) > count:
        raise _fail(kind, f"I don't understand `{rest[count][:40]}` after `{kind}`.")
    if not rest[0].strip():
        raise _fail(kind, "The name is empty.")
    return rest


def _build(kind: str, make: Callable[[], Change]) -> Change:
    try:
        return make()
    except PydanticError as exc:
        first = exc.errors()[0]
        raise _fail(kind, f"I couldn't use that: {first['msg']}.") from exc


def parse_change(text: str, *, today: date, base_currency: str) -> Change:
    """One change from its inline form; ``/tamio add``'s syntax (client, expense, ...) is read by
    ``tamio.obligations.inline.parse_add``, the one reader of it."""
    words = split_words(text or "")
    if not words:
        raise ValidationError("The what-if is empty.", hint=f"Try `{USAGES['late'][1]}` or `{USAGES['add'][1]}`.")
    kind, rest = words[0].lower(), words[1:]
    if kind == "add" and rest:
        kind, rest = rest[0].lower(), rest[1:]
    if kind in ADD_KINDS:
        return _read_add([("payroll" if kind == "hire" else kind), *rest], today, base_currency)
    readers: dict[str, Callable[[], Change]] = {
        "late": lambda: _late(rest),
        "lose": lambda: _build("lose", lambda: Lose(name=_named("lose", rest, 1)[0])),
        "remove": lambda: _build("remove", lambda: Remove(name=_named("remove", rest, 1)[0])),
        "pause": lambda: _build("pause", lambda: Pause(name=_named("pause", rest, 1)[0])),
        "change": lambda: _change(rest, today, base_currency),
        "move": lambda: _move(rest, today),
        "once": lambda: _once(rest, today, base_currency),
        "draw": lambda: _draw(rest, today, base_currency),
        "balance": lambda: _balance(rest),
    }
    reader = readers.get(kind)
    if reader is None:
        known = ", ".join(f"`{k}`" for k in (*readers, "client", "expense", "payroll", "tax"))
        raise ValidationError(f"I don't know the what-if `{words[0][:40]}`.", hint=f"Start with one of {known}.")
    return reader()


def _late(rest: list[str]) -> Change:
    name, days = _named("late", rest, 2)
    if not days.isdigit() or not 1 <= int(days) <= MAX_LATE_DAYS:
        raise _fail("late", f"`{days[:40]}` is not a number of days.", hint=f"Use a whole number from 1 to {MAX_LATE_DAYS}.")
    return _build("late", lambda: Late(name=name, days=int(days)))


def _change(rest: list[str], today: date, base_currency: str) -> Change:
    name, what, value = _named("change", rest, 3)
    if what.lower() == "amount":
        return _build("change", lambda: ChangeAmount(name=name, amount=_amount(value, "change", base_currency)))
    if what.lower() == "date":
        return _build("change", lambda: Move(name=name, to=_date(value, "change", today)))
    raise _fail("change", f"I can change the `amount` or the `date`, not `{what[:40]}`.")


def _move(rest: list[str], today: date) -> Change:
    words = [w for i, w in enumerate(rest) if not (i == 1 and w.lower() == "to")]
    name, day = _named("move", words, 2)
    return _build("move", lambda: Move(name=name, to=_date(day, "move", today)))


def _once(rest: list[str], today: date, base_currency: str) -> Change:
    if len(rest) != 4 or rest[2].lower() != "on":
        raise _fail("once", "I need `in` or `out`, an amount, `on` and a date.")
    direction = rest[0].lower()
    if direction not in ("in", "out"):
        raise _fail("once", f"`{rest[0][:40]}` is not `in` or `out`.")
    amount, on = _amount(rest[1], "once", base_currency), _date(rest[3], "once", today)
    return _build("once", lambda: OneOff(direction="in" if direction == "in" else "out", amount=amount, on=on))


def _draw(rest: list[str], today: date, base_currency: str) -> Change:
    if len(rest) not in (2, 4) or (len(rest) == 4 and rest[2].lower() != "on"):
        raise _fail("draw", "I need the credit line's name in quotes, an amount, and optionally `on` and a date.")
    on = _date(rest[3], "draw", today) if len(rest) == 4 else today
    amount = _amount(rest[1], "draw", base_currency)
    return _build("draw", lambda: Draw(credit_line=rest[0], amount=amount, on=on))


def _balance(rest: list[str]) -> Change:
    name, value = _named("balance", rest, 2)
    amount = _any_amount(value)  # an overdrawn account may be set below zero
    return _build("balance", lambda: Balance(cash_account=name, amount=amount))


def _any_amount(token: str) -> Decimal:
    try:
        return parse_amount(token, allow_negative=True)
    except TamioError as exc:
        raise _fail("balance", exc.message, hint=exc.hint) from exc


def parse_changes(texts: list[str], *, today: date, base_currency: str) -> list[Change]:
    """Each what-if text read into its change, with ``/tamio add``'s syntax for added obligations."""
    return [parse_change(text, today=today, base_currency=base_currency) for text in texts]


def _read_add(words: list[str], today: date, base_currency: str) -> Change:
    """``/tamio add``'s syntax, read by the core's add reader (its messages, with the what-if's usage)."""
    try:
        added = parse_add(words, today=today, base_currency=base_currency)
    except TamioError as exc:
        raise _fail("add", exc.message, hint=exc.hint) from exc
    return AddObligation(name=added.name, obligation_kind=added.kind, amount=added.amount, currency=added.currency,
                         recurrence=added.recurrence.to_config())
