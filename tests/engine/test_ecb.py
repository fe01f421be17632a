"""The ECB reference-rate files: the daily/90-day XML, the history CSV and its zip, from disk or HTTP."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from tamio.currency.ecb import (
    EcbFetchError,
    EcbFormatError,
    EcbRate,
    load_ecb_rates,
    parse_daily_xml,
    parse_ecb_document,
    parse_history_csv,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ecb"
DAILY_XML = FIXTURES / "eurofxref-daily.xml"
HISTORY_CSV = FIXTURES / "eurofxref-hist.csv"
NOV_27 = date(2024, 11, 27)
ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
    'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
    "<gesmes:subject>Reference rates</gesmes:subject>\n"
)


def by_key(rates: list[EcbRate]) -> dict[tuple[str, date], Decimal]:
    return {(rate.currency, rate.rate_date): rate.rate for rate in rates}


def envelope(cubes: str) -> str:
    return f"{ENVELOPE_OPEN}<Cube>\n{cubes}\n</Cube>\n</gesmes:Envelope>\n"


# -- the daily and 90-day XML ---------------------------------------------------------------------


def test_daily_xml_gives_units_of_each_currency_per_euro() -> None:
    rates = parse_daily_xml(DAILY_XML.read_bytes())

    assert len(rates) == 14
    assert {rate.rate_date for rate in rates} == {NOV_27}
    assert rates[0] == EcbRate(currency="USD", rate=Decimal("1.0552"), rate_date=NOV_27)
    assert [rate.currency for rate in rates][:4] == ["USD", "JPY", "BGN", "CZK"]
    assert by_key(rates)[("JPY", NOV_27)] == Decimal("159.63")
    assert str(by_key(rates)[("GBP", NOV_27)]) == "0.83590"  # exact, as published


def test_daily_xml_as_text_reads_the_same_as_bytes() -> None:
    assert parse_daily_xml(DAILY_XML.read_text()) == parse_daily_xml(DAILY_XML.read_bytes())


def test_90_day_xml_has_one_time_cube_per_working_day() -> None:
    text = envelope(
        "<Cube time='2024-11-27'><Cube currency='USD' rate='1.0552'/><Cube currency='JPY' rate='159.63'/></Cube>\n"
        "<Cube time='2024-11-26'><Cube currency='USD' rate='1.0490'/><Cube currency='JPY' rate='161.13'/></Cube>\n"
        "<Cube time='2024-11-25'><Cube currency='USD' rate='1.0478'/></Cube>"
    )

    rates = by_key(parse_daily_xml(text))

    assert rates == {
        ("USD", NOV_27): Decimal("1.0552"),
        ("JPY", NOV_27): Decimal("159.63"),
        ("USD", date(2024, 11, 26)): Decimal("1.0490"),
        ("JPY", date(2024, 11, 26)): Decimal("161.13"),
        ("USD", date(2024, 11, 25)): Decimal("1.0478"),
    }


@pytest.mark.parametrize(
    ("document", "expected_message"),
    [
        (envelope("<Cube time='2024-11-27'><Cube currency='USD' rate='1.0552'/>"), "line 7"),  # unclosed
        (envelope("<Cube time='2024-11-27'>\n<Cube currency='USD'/></Cube>"), "line 6: expected <Cube currency"),
        (envelope("<Cube time='27.11.2024'><Cube currency='USD' rate='1'/></Cube>"), "not a YYYY-MM-DD date"),
        (envelope("<Cube time='2024-11-27'><Cube currency='USD' rate='1,0552'/></Cube>"), "not a number"),
        (envelope("<Cube time='2024-11-27'><Cube currency='USD' rate='-1.05'/></Cube>"), "must be a positive"),
        (envelope("<Cube time='2024-11-27'><Cube currency='usd' rate='1.05'/></Cube>"), "three-letter"),
        (
            envelope(
                "<Cube time='2024-11-27'><Cube currency='USD' rate='1.05'/><Cube currency='USD' rate='1.06'/></Cube>"
            ),
            "a second USD rate for 2024-11-27",
        ),
        (envelope(""), "no exchange rates"),
        ('<?xml version="1.0"?><rates><rate currency="USD">1.05</rate></rates>', "gesmes:Envelope"),
    ],
    ids=["truncated", "no-rate", "bad-date", "bad-number", "negative", "lower-case", "duplicate", "empty", "other-xml"],
)
def test_malformed_xml_is_refused_with_the_place(document: str, expected_message: str) -> None:
    with pytest.raises(EcbFormatError, match=expected_message):
        parse_daily_xml(document)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',  # entity expansion
        '<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',  # external entity
        '<!DOCTYPE gesmes:Envelope SYSTEM "http://127.0.0.1:9/ecb.dtd">',  # external DTD
    ],
    ids=["entity-expansion", "external-entity", "external-dtd"],
)
def test_xml_with_a_doctype_is_refused(doctype: str) -> None:
    text = DAILY_XML.read_text().replace("?>\n", "?>\n" + doctype + "\n", 1)
    assert doctype in text

    with pytest.raises(EcbFormatError, match="line 2: DOCTYPE and ENTITY declarations are refused"):
        parse_daily_xml(text)


# -- the history CSV ------------------------------------------------------------------------------


def test_history_csv_skips_na_cells_and_the_trailing_empty_column() -> None:
    rates = parse_history_csv(HISTORY_CSV.read_text())
    table = by_key(rates)

    # 3 recent days x 14 currencies (CYP, EEK and RUB are N/A) + 17 currencies on 2007-12-31
    assert len(rates) == 3 * 14 + 17
    assert {rate.rate_date for rate in rates} == {NOV_27, date(2024, 11, 26), date(2024, 11, 25), date(2007, 12, 31)}
    assert "" not in {rate.currency for rate in rates}
    assert ("CYP", NOV_27) not in table and ("RUB", NOV_27) not in table
    assert table[("CYP", date(2007, 12, 31))] == Decimal("0.585274")
    assert table[("RUB", date(2007, 12, 31))] == Decimal("35.9860")
    assert table[("USD", date(2024, 11, 26))] == Decimal("1.0490")
    assert rates[0].rate_date == NOV_27  # the file's order: newest first


def test_history_csv_and_daily_xml_agree_on_the_same_day() -> None:
    from_csv = {key: rate for key, rate in by_key(parse_history_csv(HISTORY_CSV.read_text())).items() if key[1] == NOV_27}
    assert from_csv == by_key(parse_daily_xml(DAILY_XML.read_bytes()))


def test_daily_csv_with_spaces_and_written_out_dates() -> None:
    text = "Date, USD, JPY, RUB, \n27 November 2024, 1.0552, 159.63, N/A, \n"

    assert parse_history_csv(text) == [
        EcbRate("USD", Decimal("1.0552"), NOV_27),
        EcbRate("JPY", Decimal("159.63"), NOV_27),
    ]


@pytest.mark.parametrize(
    ("text", "expected_message"),
    [
        ("Date,USD,JPY,\n2024-11-27,1.0552,159.63,\n2024-11-26,1.0490,abc,\n", r"line 3, JPY: .*'abc' is not a number"),
        ("Date,USD,JPY,\n2024-11-27,1.0552,\n", "line 2: no value for JPY"),
        ("Date,USD,JPY,\n2024-11-27,1.0552\n", "line 2: 1 values for 2 currencies"),
        ("Date,USD,JPY,\n2024-11-27,1.0552,159.63,\n2024/11/26,1.0490,161.13,\n", "line 3: '2024/11/26' is not a date"),
        ("USD,JPY,\n1.0552,159.63,\n", "line 1: expected a header starting with 'Date'"),
        ("Date,USD,\n2024-11-27,N/A,\n", "no exchange rates"),
        ("", "line 1"),
        ('Date,USD,\n2024-11-27,"1.0"5,\n', "line 2: not CSV"),
    ],
    ids=["bad-number", "empty-cell", "short-row", "bad-date", "no-header", "all-na", "empty", "bad-quoting"],
)
def test_malformed_csv_is_refused_with_the_line(text: str, expected_message: str) -> None:
    with pytest.raises(EcbFormatError, match=expected_message):
        parse_history_csv(text)


def test_unknown_content_is_refused() -> None:
    with pytest.raises(EcbFormatError, match="neither ECB XML nor the ECB history CSV"):
        parse_ecb_document(b'{"rates": {"USD": 1.05}}')


# -- loading from a file, a zip and a URL ----------------------------------------------------------


def zipped(path: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return path


async def test_load_picks_the_parser_by_content_not_by_name(tmp_path: Path) -> None:
    disguised = tmp_path / "rates.dat"
    disguised.write_bytes(HISTORY_CSV.read_bytes())

    assert await load_ecb_rates(str(DAILY_XML)) == parse_daily_xml(DAILY_XML.read_bytes())
    assert await load_ecb_rates(str(disguised)) == parse_history_csv(HISTORY_CSV.read_text())


async def test_load_reads_the_zipped_history(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "eurofxref-hist.zip", "eurofxref-hist.csv", HISTORY_CSV.read_bytes())

    rates = await load_ecb_rates(str(archive))

    assert len(rates) == 59
    assert by_key(rates)[("GBP", date(2007, 12, 31))] == Decimal("0.73335")


async def test_a_zip_without_one_rate_file_is_refused(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "other.zip", "README.txt", b"no rates here")

    with pytest.raises(EcbFormatError, match=r"expected one .csv or .xml file in the zip archive, found \['README.txt'\]"):
        await load_ecb_rates(str(archive))


async def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await load_ecb_rates(str(tmp_path / "eurofxref-daily.xml"))


@pytest.fixture
async def ecb_site(tmp_path: Path) -> AsyncIterator[str]:
    """A stand-in for www.ecb.europa.eu on 127.0.0.1 serving the fixture files."""
    hist_zip = zipped(tmp_path / "eurofxref-hist.zip", "eurofxref-hist.csv", HISTORY_CSV.read_bytes()).read_bytes()

    async def daily(_request: web.Request) -> web.Response:
        return web.Response(body=DAILY_XML.read_bytes(), content_type="text/xml")

    async def history(_request: web.Request) -> web.Response:
        return web.Response(body=hist_zip, content_type="application/zip")

    released = asyncio.Event()  # the slow answer waits until teardown, so teardown does not wait for it

    async def slow(_request: web.Request) -> web.Response:
        await released.wait()
        return web.Response(body=DAILY_XML.read_bytes(), content_type="text/xml")

    app = web.Application()
    app.router.add_get("/stats/eurofxref/eurofxref-daily.xml", daily)
    app.router.add_get("/stats/eurofxref/eurofxref-hist.zip", history)
    app.router.add_get("/slow.xml", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        released.set()
        await runner.cleanup()


async def test_load_downloads_the_daily_xml(ecb_site: str) -> None:
    rates = await load_ecb_rates(f"{ecb_site}/stats/eurofxref/eurofxref-daily.xml")

    assert rates == parse_daily_xml(DAILY_XML.read_bytes())


async def test_load_downloads_the_zipped_history(ecb_site: str) -> None:
    rates = await load_ecb_rates(f"{ecb_site}/stats/eurofxref/eurofxref-hist.zip")

    assert rates == parse_history_csv(HISTORY_CSV.read_text())


async def test_an_http_error_is_a_fetch_error(ecb_site: str) -> None:
    with pytest.raises(EcbFetchError, match="answered HTTP 404"):
        await load_ecb_rates(f"{ecb_site}/stats/eurofxref/eurofxref-missing.xml")


async def test_a_slow_server_times_out(ecb_site: str) -> None:
    with pytest.raises(EcbFetchError, match=r"took longer than 0.3 s"):
        await load_ecb_rates(f"{ecb_site}/slow.xml", timeout_seconds=0.3)
