"""Opening an obligations CSV the way spreadsheets save it, line by line, however big it is.

Why: "CSV UTF-8" from Excel or Numbers starts with a byte-order mark, and Excel's "Unicode Text"
and Windows Notepad's "Unicode" save UTF-16 with one; all of them are text the import should read.
A file of 100,000 rows is read a line at a time rather than held whole, and ``bytes_read`` says how
far reading has got (for a progress bar). Bytes that are not text are refused with the offset of the
first one, the same however the file is read.

    with CsvFile.open(Path("obligations.csv")) as source:
        for row in ObligationsReader(source.lines(), currency="USD"):
            ...
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from tamio.errors import ValidationError
from tamio.obligations.csv_columns import HEADER

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class NotText(ValidationError):
    """The file's bytes are not text in the encoding it was read in; ``offset`` is the first bad byte."""

    def __init__(self, encoding: str, offset: int) -> None:
        super().__init__(
            f"it is not {encoding} text (byte {offset}); save it as CSV UTF-8 with the header {','.join(HEADER)}"
        )
        self.encoding = encoding
        self.offset = offset


class CsvFile:
    """A CSV file's lines, decoded as they are read (``newline=""``: line ends as written, for ``csv``)."""

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary
        self.size = os.fstat(binary.fileno()).st_size if hasattr(binary, "fileno") else 0
        self.encoding = self._sniff()

    @classmethod
    def open(cls, path: Path) -> CsvFile:
        """The file at ``path`` (``OSError`` when it cannot be opened)."""
        binary = path.open("rb")
        try:
            return cls(binary)
        except BaseException:
            binary.close()
            raise

    @property
    def bytes_read(self) -> int:
        return self._binary.tell()

    def _sniff(self) -> str:
        """UTF-16 when it starts with a UTF-16 byte-order mark and its first line, the header, reads
        as the ASCII names of columns under it; UTF-8 (a byte-order mark skipped) otherwise."""
        start = self._binary.read(3)
        if start.startswith(_UTF16_BOMS):
            self._binary.seek(0)
            probe = io.TextIOWrapper(self._binary, encoding="utf-16", newline="")
            try:
                header_is_ascii = probe.readline().isascii()
            except UnicodeDecodeError:
                header_is_ascii = False
            finally:
                probe.detach()
            self._binary.seek(0)
            if header_is_ascii:
                return "UTF-16"
        self._binary.seek(len(codecs.BOM_UTF8) if start == codecs.BOM_UTF8 else 0)
        return "UTF-8"

    def lines(self) -> Iterator[str]:
        """Each line as text; ``NotText`` at the first byte that is not."""
        text = io.TextIOWrapper(self._binary, encoding=self.encoding.lower().replace("-", "_"), newline="")
        try:
            yield from text
        except UnicodeDecodeError as exc:
            # The decoder was given the bytes up to where reading has got (``tell``), the failing
            # sequence among the last ``len(exc.object)`` of them.
            raise NotText(self.encoding, self._binary.tell() - len(exc.object) + exc.start) from None
        finally:
            if not self._binary.closed:  # a reader that stopped early is closed after the file (or never)
                text.detach()

    def close(self) -> None:
        self._binary.close()

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
