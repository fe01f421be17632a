"""Reading ``/tamio client``, ``vendor`` and ``detection``: the fields that drive preparation and detection.

Pure, like the parser: words in (already split by ``parse.tokenize``), a typed command or a
``CommandError`` showing the right form out. The words themselves are the core's
(``tamio.obligations.profile``, ``tamio.detection.rule_settings``), so the form, the API and the CLI
accept the same ones.

    read_client(["Acme", "strategic"]) -> SetClientRelationship(name='Acme', relationship='strategic')
    read_vendor(["Cloud Host", "can-delay", "critical"]) -> SetVendorTerms(name='Cloud Host', flexibility='can-delay', critical=True)
    read_detection(["late_payment", "off"]) -> SetDetection(rule='late_payment', changes=(('enabled', False),))
"""

from __future__ import annotations

from bot.commands.forms import (
    USAGES,
    CommandError,
    SetClientRelationship,
    SetDetection,
    SetVendorTerms,
    ShowClient,
    ShowDetection,
)
from tamio.detection.rule_settings import read_rule_words
from tamio.errors import TamioError
from tamio.obligations.profile import FLEXIBILITIES, RELATIONSHIPS

CRITICAL_WORDS = {"critical": True, "not-critical": False, "noncritical": False, "non-critical": False}


def _fail(name: str, message: str, hint: str | None = None) -> CommandError:
    usage = USAGES[name]
    return CommandError(message, usage=usage.usage, example=usage.example, hint=hint)


def _name(name: str, word: str) -> str:
    if not word.strip():
        raise _fail(name, "The name is empty.")
    return word.strip()


def read_client(rest: list[str]) -> ShowClient | SetClientRelationship:
    """``client "Acme"`` shows how the client stands; ``client "Acme" strategic|standard`` sets it."""
    # Nothing but a kind may follow the name, so `client Bluebird Studio` needs no quotes.
    words = [word.strip() for word in rest if word.strip()]
    if len(words) > 1 and words[-1].lower() in RELATIONSHIPS:
        return SetClientRelationship(name=_name("client", " ".join(words[:-1])), relationship=words[-1].lower())
    if not words:
        raise _fail("client", "I need a client's name (and, to change it, `strategic` or `standard`).")
    if len(words) > 1 and " " in words[0]:  # a quoted name, then a word that is not a kind
        raise _fail("client", f"`{words[1][:40]}` is not a kind of client I know.", hint="Say `strategic` or `standard`.")
    return ShowClient(_name("client", " ".join(words)))


def read_vendor(rest: list[str]) -> SetVendorTerms:
    if len(rest) < 2:
        raise _fail("vendor", "I need the vendor's name (in quotes when it has spaces) and how its payments may move.",
                    hint="Say `can-delay`, `negotiable` or `cannot-delay`, and `critical` when you cannot do without it.")
    flexibility: str | None = None
    critical: bool | None = None
    for word in rest[1:]:
        low = word.lower().replace("_", "-")
        if low in FLEXIBILITIES and flexibility is None:
            flexibility = low
        elif low in CRITICAL_WORDS and critical is None:
            critical = CRITICAL_WORDS[low]
        else:
            raise _fail("vendor", f"I can't read `{word[:40]}` here.",
                        hint="Say one of `can-delay`, `negotiable`, `cannot-delay`, then `critical` or `not-critical` if you like.")
    return SetVendorTerms(name=_name("vendor", rest[0]), flexibility=flexibility, critical=critical)


def read_detection(rest: list[str]) -> ShowDetection | SetDetection:
    """``detection`` lists the rules; ``detection RULE on|off|threshold N|threshold none`` changes one (admins)."""
    try:
        found = read_rule_words(rest)
    except TamioError as exc:
        raise _fail("detection", exc.message, hint=exc.hint) from exc
    if found is None:
        return ShowDetection()
    kind, changes = found
    return SetDetection(rule=kind.value, changes=tuple(changes.items()))
