"""``tamio import obligations FILE.csv``: all-or-nothing, and importing the same file twice adds nothing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tamio.cli.context import CliContext
from tamio.errors import MissingExchangeRate, TamioError, ValidationError
from tamio.obligations.csv_format import CsvImportError, parse_obligations_csv
from tamio.obligations.importer import import_obligations

HEADER = "counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar"


def register(sub: Any) -> None:
    parser = sub.add_parser("import", help="import data from a file")
    imp_sub = parser.add_subparsers(dest="import_command", metavar="WHAT")
    imp_sub.required = True
    about = (f"import obligations from CSV: {HEADER} (optional columns: flexibility, as can_delay, negotiable or cannot_delay, "
             "for vendors; email and contact_name, whom follow-up emails go to)")
    obligations = imp_sub.add_parser("obligations", help=about, description=about[:1].upper() + about[1:] + ".")
    obligations.add_argument("file")
    obligations.set_defaults(handler=_import_obligations)


def _one_line(exc: CsvImportError, shown: int = 5) -> str:
    """Every problem on one line (the first few, then how many more), in file order."""
    problems = [str(error) for error in exc.errors] or [str(exc)]
    text = "; ".join(problems[:shown])
    return text + (f"; and {len(problems) - shown} more" if len(problems) > shown else "") + "."


async def _import_obligations(args: argparse.Namespace, ctx: CliContext) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"I couldn't read {path}: {exc.strerror}. Nothing was imported.") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"Nothing was imported from {path}: it is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8 with the header {HEADER}."
        ) from exc
    try:
        rows = parse_obligations_csv(text)
    except CsvImportError as exc:
        raise TamioError(f"Nothing was imported from {path}: {_one_line(exc)}") from exc
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        try:
            result = await import_obligations(session, account=account, settings=ctx.settings, rows=rows, today=ctx.today(account), now=ctx.now)
        except MissingExchangeRate as exc:  # keeps the pair (a configured feed is fetched, and the import tried again)
            raise MissingExchangeRate(f"Nothing was imported from {path}: {exc.message}", hint=exc.hint, currencies=exc.currencies) from exc
        except TamioError as exc:
            raise TamioError(f"Nothing was imported from {path}: {exc}") from exc
    flexibility = f"; flexibility set for {result.flexibility_set} vendors" if result.flexibility_set else ""
    if result.contacts_set:
        flexibility += f"; contact set for {result.contacts_set} existing counterpart{'ies' if result.contacts_set != 1 else 'y'}"
    print(
        f"Imported {result.created} obligations from {path} "
        f"({result.skipped} already there; {result.new_counterparties} new counterparties{flexibility})."
    )
    return 0
