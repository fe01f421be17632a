"""What ``/tamio`` understands: the subcommands with their usage and example, and the typed commands.

``bot.commands.parse`` reads text into these; each subcommand function receives one. Kept apart
from the reader so the help text, the manifest's usage hint and the parser share one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from tamio.accounts.models import Role
from tamio.errors import ValidationError
from tamio.obligations.adding import AddObligation
from tamio.obligations.inline import SYNTAX as ADD_SYNTAX


class CommandError(ValidationError):
    def __init__(self, message: str, *, usage: str, example: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or f"Write it as `/tamio {usage}`.")
        self.usage = usage
        self.example = example


@dataclass(frozen=True)
class Usage:
    usage: str
    example: str
    what: str


USAGES: Final[dict[str, Usage]] = {
    "help": Usage("help", "/tamio help", "this list"),
    "forecast": Usage("forecast [weeks] | forecast accuracy [weeks]", "/tamio forecast 13",
                      "the weekly cash forecast and its chart (1 to 52 weeks); `accuracy`: how right past forecasts were"),
    "client": Usage('client "Name" [strategic|standard]', '/tamio client "Acme Corp"',
                    "how a client pays, in words, and what it owes now; `strategic` clients are chased gently"),
    "add": Usage(
        "add " + ADD_SYNTAX,
        '/tamio add expense "AWS" 1200 USD monthly on 15',
        "add what you are owed or owe; `add` alone opens a form",
    ),
    "whatif": Usage('whatif CHANGE [; CHANGE ...]', '/tamio whatif hire "Engineer" 8000 monthly from 2027-03-01; late "Acme Corp" 30',
                    "try a change on the forecast without making it: `late`, `lose`, `remove`, `pause`, `change`, `once`, `draw`, "
                    "`balance`, or anything `add` takes"),
    "balance": Usage('balance [set "Account" AMOUNT [CURRENCY]]', '/tamio balance set "Operating" 45000 USD', "list or set cash balances"),
    "paid": Usage('paid "Name" AMOUNT [CURRENCY] [on DATE] [for INVOICE]', '/tamio paid "Acme Corp" 5000 for INV-1042',
                  "record a payment received or made (without an invoice, it pays the oldest open ones first)"),
    "alerts": Usage("alerts", "/tamio alerts", "open alerts by severity"),
    "actions": Usage("actions", "/tamio actions", "the actions waiting for a decision"),
    "run": Usage("run", "/tamio run", "check the forecast for problems now and prepare actions"),
    "config": Usage("config [set KEY VALUE]", "/tamio config set safety_mode conservative", "show or change thresholds (admins)"),
    "digest": Usage("digest here", "/tamio digest here", "post alerts, cards and the daily digest in this channel"),
    "role": Usage("role @person approver|admin|viewer", "/tamio role @maria approver", "who may decide (admins)"),
    "rename": Usage('rename client|expense "Old name" "New name"', '/tamio rename client "Acme" "Acme Corp"',
                    "rename a client or expense (names synced from Xero change in Xero)"),
    "contact": Usage('contact [client|expense] "Name" EMAIL ["Contact name"]', '/tamio contact "Acme Corp" ap@acme.example',
                     "set the email Tamio's follow-up emails to a client or vendor go to (and whom to greet)"),
    "connect": Usage("connect xero", "/tamio connect xero", "connect Xero to sync contacts, invoices and payments (admins)"),
    "sync": Usage("sync [xero]", "/tamio sync", "pull what changed in Xero now (Tamio also syncs every night)"),
    "rate": Usage("rate CURRENCY RATE", "/tamio rate CHF 1.12",
                  "what 1 of a currency is worth in yours, for this workspace only; it wins over the ECB's rate (admins)"),
    "token": Usage("token [list|revoke ID]", "/tamio token",
                   "create an API token for the REST API, shown once; list or revoke tokens (admins)"),
    "rules": Usage("rules [set RULE auto on|off [threshold AMOUNT|none] [currency CUR]]", "/tamio rules set payment_batch auto on threshold 5000",
                   "which actions run without waiting for a person; change one (admins; payroll is locked)"),
    "vendor": Usage('vendor "Name" [can-delay|negotiable|cannot-delay] [critical|not-critical]', '/tamio vendor "Cloud Host" can-delay',
                    "how a vendor's payments may move when cash is short (critical vendors are never delayed)"),
    "detection": Usage("detection [RULE on|off|threshold N|threshold none]", "/tamio detection late_payment threshold 10",
                       "the detection rules; switch one off or change its threshold (admins)"),
}
INTEGRATIONS: Final = ("xero",)

# -- the commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class ShowWhatIf:
    """``/tamio whatif ...``: the changes as typed (checked), tried on the forecast."""

    texts: tuple[str, ...]


@dataclass(frozen=True)
class ShowForecast:
    weeks: int = 13


@dataclass(frozen=True)
class ShowAccuracy:
    weeks: int = 13  # score the weeks that ended in the last this many weeks


@dataclass(frozen=True)
class ShowClient:
    name: str


@dataclass(frozen=True)
class OpenAddForm:
    kind: str | None = None


@dataclass(frozen=True)
class ListBalances:
    pass


@dataclass(frozen=True)
class SetBalance:
    name: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RecordPaid:
    name: str
    amount: Decimal
    currency: str | None
    on: date
    invoice: str | None = None  # "for INV-1042": the invoice paid (else the oldest open ones)


@dataclass(frozen=True)
class ShowAlerts:
    pass


@dataclass(frozen=True)
class ShowActions:
    pass


@dataclass(frozen=True)
class RunPipeline:
    pass


@dataclass(frozen=True)
class ShowConfig:
    pass


@dataclass(frozen=True)
class SetConfig:
    key: str
    value: object


@dataclass(frozen=True)
class DigestHere:
    pass


@dataclass(frozen=True)
class SetRole:
    slack_user_id: str
    role: Role


@dataclass(frozen=True)
class RenameCounterparty:
    kind: str  # client or expense
    name: str
    new_name: str


@dataclass(frozen=True)
class SetContact:
    name: str
    email: str
    kind: str | None = None  # client or expense; None: whichever has the name
    contact_name: str | None = None


@dataclass(frozen=True)
class ConnectIntegration:
    integration: str = "xero"


@dataclass(frozen=True)
class SyncIntegration:
    integration: str = "xero"


@dataclass(frozen=True)
class CreateToken:
    name: str = ""


@dataclass(frozen=True)
class ListTokens:
    pass


@dataclass(frozen=True)
class RevokeToken:
    token_id: str


@dataclass(frozen=True)
class SetRate:
    currency: str
    rate: Decimal


@dataclass(frozen=True)
class ShowRules:
    pass


@dataclass(frozen=True)
class SetRule:
    rule: str
    changes: tuple[tuple[str, object], ...]  # (field, value) for ``tamio.execution.automation.update_rule``


@dataclass(frozen=True)
class SetClientRelationship:
    name: str
    relationship: str  # strategic, standard (tamio.obligations.profile.RELATIONSHIPS)


@dataclass(frozen=True)
class SetVendorTerms:
    name: str
    flexibility: str | None  # can-delay, negotiable, cannot-delay; None: unchanged
    critical: bool | None  # None: unchanged


@dataclass(frozen=True)
class ShowDetection:
    pass


@dataclass(frozen=True)
class SetDetection:
    rule: str
    changes: tuple[tuple[str, object], ...]  # (field, value) for ``tamio.detection.rule_settings.update_detection_rule``


Command = (
    ShowHelp | ShowForecast | ShowAccuracy | ShowClient | OpenAddForm | AddObligation | ListBalances | SetBalance | RecordPaid | ShowAlerts
    | ShowActions | RunPipeline | ShowConfig | SetConfig | DigestHere | SetRole | RenameCounterparty | SetContact
    | ConnectIntegration | SyncIntegration | CreateToken | ListTokens | RevokeToken | SetRate | ShowRules | SetRule
    | SetClientRelationship | SetVendorTerms | ShowDetection | SetDetection
)
