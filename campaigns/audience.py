"""Reading an audience: a CSV upload or pasted numbers, checked row by row.

Invalid rows are reported with their line numbers and left out; duplicates are
removed; a file that cannot be read at all says why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from providers.phones import to_e164

PHONE_COLUMNS = (
    "phone",
    "mobile",
    "number",
    "msisdn",
    "to",
    "destination",
    "phone_number",
)
MAX_ROWS = 500_000


@dataclass
class Audience:
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # E.164 -> columns
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    duplicates: int = 0
    columns: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # E.164 -> its line

    def add(self, line: int, raw: str, region: str, fields: dict[str, str]) -> None:
        try:
            number = to_e164(raw.strip(), region)
        except ValidationError as err:
            self.invalid.append((line, " ".join(err.messages)))
            return
        if number in self.members:
            self.duplicates += 1
            return
        self.members[number] = fields
        self.lines[number] = line


def decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValidationError(
            "The file is not UTF-8 text (byte %(position)d cannot be read). Save it "
            "as “CSV UTF-8” and upload it again.",
            code="not_utf8",
            params={"position": err.start + 1},
        ) from err
    if "\x00" in text:
        # Every other byte NUL is UTF-16 read as UTF-8; and no database column
        # holds NUL.
        raise ValidationError(
            "The file contains NUL characters (first on line %(line)d): it is not "
            "UTF-8 text. Save it as “CSV UTF-8” and upload it again.",
            code="nul_character",
            params={"line": text.count("\n", 0, text.index("\x00")) + 1},
        )
    return text


def read_csv(data: bytes, *, region: str) -> Audience:
    text = decode(data)
    if not text.strip():
        raise ValidationError("The file is empty.", code="empty_file")
    dialect = sniff(text)
    # newline="": lines may end in CR alone (old Mac exports), as csv expects.
    rows = Rows(csv.reader(io.StringIO(text, newline=""), dialect=dialect))
    try:
        return read_rows(rows, text, region=region)
    except csv.Error as err:
        line, delimiter = rows.start, dialect.delimiter
        raise unreadable(err, text, line=line, delimiter=delimiter) from err


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


def read_rows(rows: Iterator[list[str]], text: str, *, region: str) -> Audience:
    header = [name.strip() for name in next(rows)]
    phone = phone_column(header, text)
    audience = Audience(columns=[h for h in header if h])
    for line, row in enumerate(rows, start=2):
        if line > MAX_ROWS:
            raise ValidationError(
                "At most %(n)d rows.", code="too_many_rows", params={"n": MAX_ROWS}
            )
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= phone:
            audience.invalid.append((line, "the row has no value in the phone column"))
            continue
        fields = {h: v.strip() for h, v in zip(header, row, strict=False) if h}
        audience.add(line, row[phone], region, fields)
    return audience


def unreadable(
    err: csv.Error, text: str, *, line: int, delimiter: str
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


def long_cell_column(text: str, *, line: int, delimiter: str, limit: int) -> str:
    """Words naming the column of the cell over the limit (“ in the column
    notes”), when that cell lies on its line; a quoted cell may span several
    lines, and then nothing is said."""
    lines = text.splitlines()
    cells = lines[line - 1].split(delimiter) if line <= len(lines) else []
    long = [i for i, cell in enumerate(cells) if len(cell) > limit]
    if not long:
        return ""
    header = lines[0].split(delimiter)
    if long[0] < len(header) and header[long[0]].strip():
        return f" in the column “{header[long[0]].strip()}”"
    return f" in column {long[0] + 1}"


def sniff(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def phone_column(header: list[str], text: str) -> int:
    lowered = [name.lower() for name in header]
    for name in PHONE_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    first_line = text.splitlines()[0]
    for delimiter in (";", "\t", "|", ","):
        if delimiter in first_line and len(header) == 1:
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
                audience.add(line, piece, region, {"phone": piece.strip()})
    return audience
