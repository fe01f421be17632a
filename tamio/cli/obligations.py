"""``tamio import obligations FILE.csv``: all-or-nothing, and importing the same file twice adds nothing.

``--dry-run`` shows what the import would change (the counterparties and obligations it would
create, update or leave as they are, with the file's line numbers) and writes nothing. ``--help``
lists every column and every value each takes (from ``csv_columns``, what the import reads). On a
terminal, an import that takes more than a second shows a progress bar on stderr; output that goes
to a pipe or a file never has one.
"""

from __future__ import annotations

import argparse
import gc
import textwrap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tamio.cli import _for_the_command_line
from tamio.cli.context import CliContext
from tamio.cli.status import progress_bar
from tamio.errors import MissingExchangeRate, TamioError, ValidationError
from tamio.obligations import csv_columns
from tamio.obligations.csv_file import CsvFile, NotText
from tamio.obligations.csv_format import CsvImportError, ObligationsReader
from tamio.obligations.importer import Change, ImportResult, import_obligations

HEADER = ",".join(csv_columns.HEADER)
EXAMPLE = """\
  counterparty,kind,amount,frequency,start_date,day
  Landlord LLC,vendor,"4,500.00",monthly,2026-01-31,last
  Acme Corp,client,5000,once,2026-11-20,"""


def register(sub: Any) -> None:
    parser = sub.add_parser("import", help="import data from a file")
    imp_sub = parser.add_subparsers(dest="import_command", metavar="WHAT")
    imp_sub.required = True
    about = "import obligations (what you are owed and what you owe) from a CSV file; --dry-run shows what would change"
    obligations = imp_sub.add_parser("obligations", help=about, description=about[:1].upper() + about[1:] + ".",
                                     epilog=columns_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    obligations.add_argument("file", help="the CSV file (UTF-8 or UTF-16; commas, semicolons or tabs between cells)")
    obligations.add_argument("--dry-run", action="store_true",
                             help="show what the import would create, update or leave as it is, line by line, and write nothing")
    obligations.set_defaults(handler=_import_obligations)


def columns_help(width: int = 100) -> str:
    """Every column, whether it is needed, and every value it takes."""
    name_width = max(len(c.name) for c in csv_columns.COLUMNS) + 2
    indent = " " * (2 + name_width + 11)
    parts = ["columns (the first line names them, in any order; an optional column may be left out or left empty):", ""]
    for column in csv_columns.COLUMNS:
        needed = "required" if column.required else "optional"
        text = f"{column.meaning}. Takes: {column.accepts}."
        lead = f"  {column.name:<{name_width}}{needed:<11}"
        parts.append(textwrap.fill(text, width, initial_indent=lead, subsequent_indent=indent))
    codes = " ".join(csv_columns.calendar_codes())
    parts += ["", textwrap.fill(f"calendar codes: {codes} (the three-letter ISO codes work too)", width, subsequent_indent="  "),
              "", "for example:", EXAMPLE, "",
              "Importing the same file again adds nothing; a file with a problem imports nothing and names each line and column."]
    return "\n".join(parts)


def _problems(exc: CsvImportError, shown: int = 50) -> str:
    """The file's problems in file order: one alone stays on the line; several go one to a line below
    it (the first ``shown``, then how many more), each naming its line, its column and what would be right."""
    problems = [str(error) for error in exc.errors] or [str(exc)]
    if len(problems) == 1:
        return problems[0] + "."
    lines = [f"{len(problems):,} problems; fix them and import the file again:"]
    lines += [f"  {problem}." for problem in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  and {len(problems) - shown:,} more, the last on line {exc.errors[-1].line:,}.")
    return "\n".join(lines)


def _advancing(lines: Iterable[str], source: CsvFile, bar: Any) -> Iterator[str]:
    for number, line in enumerate(lines, 1):
        if bar is not None and number % 512 == 0:
            bar.update(source.bytes_read - bar.n)
        yield line


@contextmanager
def _collecting_less() -> Iterator[None]:
    """An import allocates millions of short-lived objects and keeps few: what is loaded by now is
    never garbage (frozen out of the collector's passes), and the first pass runs every 50,000
    allocations rather than every 700 (about a tenth of the import's time, measured). As it was after."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


async def _import_obligations(args: argparse.Namespace, ctx: CliContext) -> int:
    with _collecting_less():
        return await _import_file(args, ctx)


async def _import_file(args: argparse.Namespace, ctx: CliContext) -> int:
    path = Path(args.file)
    try:
        source = CsvFile.open(path)
    except OSError as exc:
        raise ValidationError(f"I couldn't read {path}: {exc.strerror}. Nothing was imported.") from exc
    bar = progress_bar(source.size, f"Importing {path.name}")
    try:
        with source:
            async with ctx.transaction() as session:
                account = await ctx.account(session)
                rows = ObligationsReader(_advancing(source.lines(), source, bar), currency=account.base_currency)
                try:
                    result = await import_obligations(session, account=account, settings=ctx.settings, rows=rows,
                                                      today=ctx.today(account), now=ctx.now, dry_run=args.dry_run)
                except NotText as exc:
                    raise ValidationError(f"Nothing was imported from {path}: {exc.message}.") from exc
                except CsvImportError as exc:
                    raise TamioError(f"Nothing was imported from {path}: {_problems(exc)}") from exc
                except MissingExchangeRate as exc:
                    missing = MissingExchangeRate(f"Nothing was imported from {path}: {exc.message}", hint=exc.hint, currencies=exc.currencies)
                    if args.dry_run:  # a dry run fetches no rates: it names the one to add

                        raise TamioError(_for_the_command_line(missing)) from exc
                    raise missing from exc  # keeps the pair (a configured feed is fetched, and the import tried again)
                except TamioError as exc:
                    raise TamioError(f"Nothing was imported from {path}: {exc}") from exc
                if args.dry_run:
                    await session.rollback()
    finally:
        if bar is not None:
            bar.close()
    print(_dry_run(result, path) if args.dry_run else _summary(result, path))
    return 0


def _summary(result: ImportResult, path: Path) -> str:
    flexibility = f"; flexibility set for {result.flexibility_set} vendors" if result.flexibility_set else ""
    if result.contacts_set:
        flexibility += f"; contact set for {result.contacts_set} existing counterpart{'ies' if result.contacts_set != 1 else 'y'}"
    return (f"Imported {result.created} obligations from {path} "
            f"({result.skipped} already there; {result.new_counterparties} new counterparties{flexibility}).")


def _lines(lines: tuple[int, ...], shown: int = 6) -> str:
    word = "line" if len(lines) == 1 else "lines"
    listed = ", ".join(str(line) for line in lines[:shown])
    return f"{word} {listed}" + (f" and {len(lines) - shown} more" if len(lines) > shown else "")


def _counts(changes: list[Change]) -> str:
    count = {action: sum(1 for c in changes if c.action == action) for action in ("create", "update", "unchanged")}
    return f"{count['create']} to create, {count['update']} to update, {count['unchanged']} unchanged"


def _dry_run(result: ImportResult, path: Path) -> str:
    """What the import would change, counterparties first, then each row's obligation in file order."""
    parties = [c for c in result.changes if c.subject != "obligation"]
    obligations = [c for c in result.changes if c.subject == "obligation"]
    width = max((len(c.action) for c in result.changes), default=0)
    out = [f"Dry run: nothing was written. Importing {path} would change:", f"Counterparties: {_counts(parties)}."]
    for change in parties:
        detail = f": {change.detail}" if change.detail else ""
        out.append(f"  {change.action:<{width}}  {change.subject} {change.name}{detail} ({_lines(change.lines)})")
    out.append(f"Obligations: {_counts(obligations)}.")
    for change in obligations:
        out.append(f"  line {change.lines[0]}: {change.action:<{width}}  {change.name}: {change.detail}")
    return "\n".join(out)
