"""Reading an audience: a CSV upload or pasted numbers, checked row by row.

Invalid rows are reported with their line numbers and left out; duplicates are
removed when the rows are stored; a file that cannot be read at all says why.

The file is read in one streaming pass and the valid rows wait in a temporary
file until they are stored, so a million-row file takes the memory of a few
thousand rows. Duplicates are found by the database's unique constraint on
(campaign, number) as the rows are inserted in file order, not by a set of every
number in memory (about 70 MB at a million).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from collections.abc import Iterator
from functools import partial
from itertools import islice
from typing import IO, TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from providers.phones import to_e164

from . import bulk

if TYPE_CHECKING:
    from .models import Campaign

PHONE_COLUMNS = (
    "phone",
    "mobile",
    "number",
    "msisdn",
    "to",
    "destination",
    "phone_number",
)
SAMPLE_CHARS = 4096  # what the delimiter is guessed from
# A line is read whole before the csv module sees it; past this it is refused,
# so that a file without line breaks cannot fill the memory.
MAX_LINE_CHARS = 1 << 20
READ_BYTES = 1 << 16
REPORTED_INVALID = 10  # invalid rows kept with their reasons; the rest counted
SPOOL_IN_MEMORY = 1 << 20  # bytes of valid rows kept in memory before disk


class Recipient(NamedTuple):
    line: int
    to: str  # E.164
    fields: dict[str, str]


class Audience:
    """The valid rows of a file in their order, duplicates included (spooled to a
    temporary file), the first invalid rows with their reasons, and what was
    counted. `count` (distinct numbers) and `duplicates` are known once stored."""

    def __init__(self, *, columns: list[str]) -> None:
        self.columns = columns
        self.limit: int = settings.CAMPAIGN_MAX_RECIPIENTS
        self.rows = self.valid = self.invalid_count = 0
        self.count = self.duplicates = 0  # set by store()
        self.invalid: list[tuple[int, str]] = []  # (line, reason)
        self.spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (lives with self)
            max_size=SPOOL_IN_MEMORY, mode="w+", encoding="utf-8", newline="\n"
        )

    def take_row(self) -> None:
        """Count a row that holds something; refuse it past the limit, before
        the rest of the file is read."""
        self.rows += 1
        if self.rows > self.limit:
            raise ValidationError(
                "The audience has more than %(limit)s rows, the most a campaign "
                "takes (CAMPAIGN_MAX_RECIPIENTS); split it into several campaigns.",
                code="too_many_rows",
                params={"limit": f"{self.limit:,}"},
            )

    def add(self, line: int, raw: str, region: str, fields: dict[str, str]) -> None:
        try:
            number = to_e164(raw.strip(), region)
        except ValidationError as err:
            self.refuse(line, " ".join(err.messages))
            return
        self.valid += 1
        # json.dumps escapes line breaks, so a row is one line of the spool.
        self.spool.write(json.dumps([line, number, fields], ensure_ascii=False))
        self.spool.write("\n")

    def refuse(self, line: int, reason: str) -> None:
        self.invalid_count += 1
        if len(self.invalid) < REPORTED_INVALID:
            self.invalid.append((line, reason))

    def recipients(self) -> Iterator[Recipient]:
        self.spool.seek(0)
        for row in self.spool:
            yield Recipient(*json.loads(row))


def store(audience: Audience, *, campaign: Campaign) -> int:
    """Insert the audience's rows for `campaign`, whose audience is empty, 5,000
    at a time; return how many distinct numbers were stored.

    A row whose number is already stored is skipped by the unique constraint, so
    the first row of a number wins, as it comes first in the spool."""
    from .models import AudienceMember

    column = AudienceMember._meta.get_field("fields")
    rows = (
        (member.to, column.get_db_prep_save(member.fields, connection))
        for member in audience.recipients()
    )
    audience.count = bulk.insert_rows(
        AudienceMember,
        columns=["to", "fields"],
        rows=rows,
        constants={"campaign_id": campaign.pk},
        skip_conflicts=True,
    )
    audience.duplicates = audience.valid - audience.count
    return audience.count


def read_csv(stream: IO[bytes], *, region: str) -> Audience:
    """Read a seekable binary file; it is left open for its owner."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        return read_text(text, region=region)
    except UnicodeDecodeError as err:
        raise not_utf8(stream) from err
    finally:
        text.detach()


def read_text(text: io.TextIOWrapper, *, region: str) -> Audience:
    sample = text.read(SAMPLE_CHARS)
    if not sample.strip() and blank(text):
        raise ValidationError("The file is empty.", code="empty_file")
    dialect = sniff(sample)
    text.seek(0)
    rows = Rows(csv.reader(checked_lines(text), dialect=dialect))
    try:
        return read_rows(rows, region=region)
    except csv.Error as err:
        line, delimiter = rows.start, dialect.delimiter
        raise unreadable(err, text, line=line, delimiter=delimiter) from err


def blank(text: IO[str]) -> bool:
    while chunk := text.read(SAMPLE_CHARS):
        if chunk.strip():
            return False
    return True


def physical_lines(text: IO[str]) -> Iterator[str]:
    """Lines as the csv module reads them, each at most MAX_LINE_CHARS long."""
    return iter(partial(text.readline, MAX_LINE_CHARS), "")


def checked_lines(text: IO[str]) -> Iterator[str]:
    for number, line in enumerate(physical_lines(text), start=1):
        if "\x00" in line:
            # Every other byte NUL is UTF-16 read as UTF-8; and no database
            # column holds NUL.
            raise ValidationError(
                "The file contains NUL characters (first on line %(line)d): it is "
                "not UTF-8 text. Save it as “CSV UTF-8” and upload it again.",
                code="nul_character",
                params={"line": number},
            )
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise ValidationError(
                "Line %(line)d is over %(limit)s characters long, the most a line "
                "may hold; check that the file has one row a line.",
                code="line_too_long",
                params={"line": number, "limit": f"{MAX_LINE_CHARS:,}"},
            )
        yield line


def not_utf8(stream: IO[bytes]) -> ValidationError:
    """Name the first byte that is not UTF-8, counted from the file's start."""
    stream.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    for chunk in iter(partial(stream.read, READ_BYTES), b""):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as err:
            offset += err.start - pending
            break
        offset += len(chunk)
    else:  # the file ends inside a character
        offset -= len(decoder.getstate()[0])
    return ValidationError(
        "The file is not UTF-8 text (byte %(position)d cannot be read). Save it "
        "as “CSV UTF-8” and upload it again.",
        code="not_utf8",
        params={"position": offset + 1},
    )


class Rows:
    """A csv reader that knows the line its last row started on, for errors
    about a row whose quoted cell spans many lines."""

    def __init__(self, reader: Iterator[list[str]]) -> None:
        self.reader, self.start = reader, 1

    def __iter__(self) -> Rows:
        return self

    def __next__(self) -> list[str]:
        self.start = self.reader.line_num + 1
        return next(self.reader)


def read_rows(rows: Iterator[list[str]], *, region: str) -> Audience:
    header = [name.strip() for name in next(rows, [])]
    phone = phone_column(header)
    audience = Audience(columns=[h for h in header if h])
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        audience.take_row()
        if len(row) <= phone:
            audience.refuse(line, "the row has no value in the phone column")
            continue
        fields = {h: v.strip() for h, v in zip(header, row, strict=False) if h}
        audience.add(line, row[phone], region, fields)
    return audience


def unreadable(
    err: csv.Error, text: IO[str], *, line: int, delimiter: str
) -> ValidationError:
    """What the csv module could not read, said with the line (and column) where."""
    limit = csv.field_size_limit()
    if "field larger than field limit" not in str(err):
        return ValidationError(
            "Line %(line)d cannot be read as CSV (%(reason)s); check its quotes, or "
            "save the file again as “CSV UTF-8”.",
            code="invalid_csv",
            params={"line": line, "reason": err},
        )
    column = long_cell_column(text, line=line, delimiter=delimiter, limit=limit)
    return ValidationError(
        "Line %(line)d has a cell%(column)s over %(limit)s characters, the most a "
        "cell may hold; shorten it or leave the column out.",
        code="cell_too_long",
        params={"line": line, "column": column, "limit": f"{limit:,}"},
    )


def long_cell_column(text: IO[str], *, line: int, delimiter: str, limit: int) -> str:
    """Words naming the column of the cell over the limit (“ in the column
    notes”), when that cell lies on its line; a quoted cell may span several
    lines, and then nothing is said."""
    text.seek(0)
    lines = physical_lines(text)
    header = next(lines, "").rstrip("\r\n").split(delimiter)
    found = next(islice(lines, line - 2, None), "") if line > 1 else ""
    cells = found.rstrip("\r\n").split(delimiter)
    long = [i for i, cell in enumerate(cells) if len(cell) > limit]
    if not long:
        return ""
    if long[0] < len(header) and header[long[0]].strip():
        return f" in the column “{header[long[0]].strip()}”"
    return f" in column {long[0] + 1}"


def sniff(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def phone_column(header: list[str]) -> int:
    lowered = [name.lower() for name in header]
    for name in PHONE_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    for delimiter in (";", "\t", "|", ","):
        if len(header) == 1 and delimiter in header[0]:
            raise ValidationError(
                "The file seems to be separated by “%(delimiter)s”, but its columns "
                "could not be split; use commas, with a header row.",
                code="wrong_delimiter",
                params={"delimiter": "tab" if delimiter == "\t" else delimiter},
            )
    raise ValidationError(
        "No phone column: name one of the columns %(names)s in the header row.",
        code="no_phone_column",
        params={"names": ", ".join(PHONE_COLUMNS[:4])},
    )


def read_pasted(text: str, *, region: str) -> Audience:
    """One number per line (commas and semicolons also separate)."""
    audience = Audience(columns=["phone"])
    for line, raw in enumerate(text.splitlines(), start=1):
        for piece in raw.replace(";", ",").split(","):
            if piece.strip():
                audience.take_row()
                audience.add(line, piece, region, {"phone": piece.strip()})
    return audience
