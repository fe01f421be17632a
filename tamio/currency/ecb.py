"""Read the European Central Bank's euro reference rates, the free feed Tamio converts with.

The ECB publishes, on TARGET working days around 16:00 CET, how many units of ~30 currencies one
euro buys. Three shapes of the same data are understood here, and ``load_ecb_rates`` tells them
apart by content, not by name:

- ``eurofxref-daily.xml`` and ``eurofxref-hist-90d.xml``: ``Cube > Cube[time] > Cube[currency, rate]``
  inside a gesmes envelope (one or many time cubes);
- ``eurofxref-hist.csv``: ``Date,USD,JPY,...,`` newest first, ``N/A`` where a currency had no rate
  that day, and a trailing comma (an empty last column);
- ``eurofxref-hist.zip``: that CSV, zipped.

Parsing is pure and strict: a malformed file raises ``EcbFormatError`` naming the line, never a
half-read list. The XML parser refuses DOCTYPE and ENTITY declarations (entity expansion and
external entities are the classic XML attacks; the ECB never sends them).

    rates = parse_daily_xml(Path("eurofxref-daily.xml").read_bytes())
    rates[0]   # EcbRate(currency='USD', rate=Decimal('1.0552'), rate_date=date(2024, 11, 27))
    rates = await load_ecb_rates("https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip")
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

import aiohttp

GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_ENVELOPE = f"{{{GESMES_NS}}}Envelope"
_CUBE = f"{{{EUROFXREF_NS}}}Cube"
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the full history CSV is ~0.6 MB; refuse anything absurd
DEFAULT_TIMEOUT_SECONDS = 30.0


class EcbFormatError(ValueError):
    """The document is not an ECB reference-rate file; the message says where it went wrong."""


class EcbFetchError(Exception):
    """The rates could not be downloaded (connection, timeout or HTTP error)."""


@dataclass(frozen=True)
class EcbRate:
    """``rate`` units of ``currency`` buy one euro on ``rate_date``."""

    currency: str
    rate: Decimal
    rate_date: date


# -- shared checks ------------------------------------------------------------------------------


def _rate(currency: str, text: str, rate_date: date, where: str) -> EcbRate:
    if not _CURRENCY_CODE.match(currency):
        raise EcbFormatError(f"{where}: {currency!r} is not a three-letter currency code")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise EcbFormatError(f"{where}: the {currency} rate {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise EcbFormatError(f"{where}: the {currency} rate {text!r} must be a positive number")
    return EcbRate(currency=currency, rate=value, rate_date=rate_date)


def _add(rates: list[EcbRate], seen: set[tuple[str, date]], rate: EcbRate, where: str) -> None:
    key = (rate.currency, rate.rate_date)
    if key in seen:
        raise EcbFormatError(f"{where}: a second {rate.currency} rate for {rate.rate_date.isoformat()}")
    seen.add(key)
    rates.append(rate)


# -- XML ----------------------------------------------------------------------------------------


def _read_xml(data: str | bytes) -> tuple[Element, dict[int, int]]:
    """Parse with expat into an ElementTree, refusing DTDs; returns the root and each element's line.

    expat reads the encoding from the XML declaration for bytes; a str is parsed as is.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    builder = TreeBuilder()
    lines: dict[int, int] = {}

    def refuse_dtd(*_args: object) -> None:
        raise EcbFormatError(
            f"line {parser.CurrentLineNumber}: DOCTYPE and ENTITY declarations are refused "
            "(the ECB never sends them)"
        )

    def start(name: str, attributes: dict[str, str]) -> None:
        # expat writes "uri}local"; ElementTree spells it "{uri}local". Attributes are unqualified.
        element = builder.start("{" + name if "}" in name else name, attributes)
        lines[id(element)] = parser.CurrentLineNumber

    def end(name: str) -> None:
        builder.end("{" + name if "}" in name else name)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.UnparsedEntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd  # type: ignore[assignment]
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise EcbFormatError(f"line {exc.lineno}, column {exc.offset}: not well-formed XML ({exc})") from None
    return builder.close(), lines


def parse_daily_xml(text: str | bytes) -> list[EcbRate]:
    """Rates from ``eurofxref-daily.xml`` or ``eurofxref-hist-90d.xml``, in document order."""
    root, lines = _read_xml(text)
    if root.tag != _ENVELOPE:
        raise EcbFormatError(f"line {lines[id(root)]}: expected a gesmes:Envelope root element, found <{root.tag}>")
    outer_cubes = root.findall(_CUBE)
    if len(outer_cubes) != 1:
        raise EcbFormatError(
            f"expected one <Cube> in the {EUROFXREF_NS} namespace directly under the envelope, "
            f"found {len(outer_cubes)}"
        )
    rates: list[EcbRate] = []
    seen: set[tuple[str, date]] = set()
    for day in outer_cubes[0]:
        where = f"line {lines[id(day)]}"
        if day.tag != _CUBE or "time" not in day.attrib:
            raise EcbFormatError(f"{where}: expected <Cube time='YYYY-MM-DD'>, found <{day.tag}> {day.attrib}")
        try:
            rate_date = date.fromisoformat(day.attrib["time"])
        except ValueError:
            raise EcbFormatError(f"{where}: time={day.attrib['time']!r} is not a YYYY-MM-DD date") from None
        for cell in day:
            where = f"line {lines[id(cell)]}"
            if cell.tag != _CUBE or "currency" not in cell.attrib or "rate" not in cell.attrib:
                raise EcbFormatError(
                    f"{where}: expected <Cube currency='XXX' rate='1.23'/>, found <{cell.tag}> {cell.attrib}"
                )
            _add(rates, seen, _rate(cell.attrib["currency"], cell.attrib["rate"], rate_date, where), where)
    if not rates:
        raise EcbFormatError("the document holds no exchange rates")
    return rates


# -- CSV ----------------------------------------------------------------------------------------


def _csv_date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:  # eurofxref.csv (the daily CSV) writes "27 November 2024"
        return datetime.strptime(text, "%d %B %Y").date()
    except ValueError:
        raise EcbFormatError(f"{where}: {text!r} is not a date (expected YYYY-MM-DD)") from None


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise EcbFormatError(f"line {reader.line_num}: not CSV ({exc})") from None


def parse_history_csv(text: str) -> list[EcbRate]:
    """Rates from ``eurofxref-hist.csv``; ``N/A`` cells (no rate that day) are skipped."""
    rows = _csv_rows(text)
    header = next(rows, (1, None))[1]
    if header is None or not header or header[0].strip() != "Date":
        raise EcbFormatError("line 1: expected a header starting with 'Date' (Date,USD,JPY,...)")
    currencies = [name.strip() for name in header[1:]]
    while currencies and currencies[-1] == "":
        currencies.pop()  # the ECB ends every line with a comma
    if not currencies:
        raise EcbFormatError("line 1: the header names no currencies")
    rates: list[EcbRate] = []
    seen: set[tuple[str, date]] = set()
    for line_number, row in rows:
        where = f"line {line_number}"
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        while len(cells) > len(currencies) + 1 and cells[-1] == "":
            cells.pop()
        if len(cells) != len(currencies) + 1:
            raise EcbFormatError(f"{where}: {len(cells) - 1} values for {len(currencies)} currencies in the header")
        rate_date = _csv_date(cells[0], where)
        for currency, value in zip(currencies, cells[1:], strict=True):
            if value == "N/A":
                continue
            if value == "":
                raise EcbFormatError(f"{where}: no value for {currency} (the ECB writes N/A for a missing rate)")
            _add(rates, seen, _rate(currency, value, rate_date, f"{where}, {currency}"), where)
    if not rates:
        raise EcbFormatError("the file holds no exchange rates")
    return rates


# -- loading ------------------------------------------------------------------------------------


def _unzip(data: bytes) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise EcbFormatError(f"a broken zip archive: {exc}") from None
    with archive:
        members = [info for info in archive.infolist() if info.filename.lower().endswith((".csv", ".xml"))]
        if len(members) != 1:
            names = [info.filename for info in archive.infolist()]
            raise EcbFormatError(f"expected one .csv or .xml file in the zip archive, found {names}")
        if members[0].file_size > MAX_DOCUMENT_BYTES:
            raise EcbFormatError(f"{members[0].filename} is {members[0].file_size} bytes unzipped; too large")
        return archive.read(members[0])


def parse_ecb_document(data: bytes) -> list[EcbRate]:
    """Recognise an ECB document by its content (zip, XML or CSV) and parse it."""
    if data.startswith(b"PK\x03\x04"):
        data = _unzip(data)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64]
    if head.startswith(b"<"):
        return parse_daily_xml(data)
    if head.startswith(b"Date"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise EcbFormatError(f"the CSV is not UTF-8 text (byte {exc.start})") from None
        return parse_history_csv(text)
    raise EcbFormatError(f"neither ECB XML nor the ECB history CSV; it starts with {head[:32]!r}")


async def _download(url: str, seconds: float) -> bytes:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as client,
            client.get(url) as response,
        ):
            if response.status != 200:
                raise EcbFetchError(f"GET {url} answered HTTP {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise EcbFetchError(f"GET {url} returned more than {MAX_DOCUMENT_BYTES} bytes")
    except TimeoutError:
        raise EcbFetchError(f"GET {url} took longer than {seconds:g} s") from None
    except aiohttp.ClientError as exc:
        raise EcbFetchError(f"GET {url} failed: {exc}") from exc
    return bytes(body)


async def load_ecb_rates(source: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> list[EcbRate]:
    """Rates from a file path or an http(s) URL (daily/90-day XML, history CSV or its zip)."""
    if source.startswith(("http://", "https://")):
        data = await _download(source, timeout_seconds)
    else:
        data = await asyncio.to_thread(Path(source).read_bytes)
    return parse_ecb_document(data)
