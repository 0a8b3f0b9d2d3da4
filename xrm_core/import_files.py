"""Reading import files: CSV and JSONL rows, streamed, with the file's own line numbers.

Each reader yields ``(line, data or None, errors)`` per row: the data converted to the
schema's types (CSV cells, see :mod:`xrm_core.csvcells`) or the row's errors with their
pointers. A problem of the whole file (not UTF-8, a workbook, malformed CSV quoting, a
header naming unknown columns, a line past ``MAX_LINE``) raises :class:`FileRefused`.
Memory stays flat: lines are read one at a time, each at most ``MAX_LINE`` bytes.
"""
from __future__ import annotations

import codecs
import csv
import functools
from pathlib import Path
from typing import IO, Iterator

import orjson

from .csvcells import CsvHeader
from .errors import ValidationError
from .stored_json import InexactNumber, RepeatedKey, loads_exact

FORMATS = ("csv", "jsonl")
#: Largest CSV cell accepted: big enough for any JSON cell, small enough that a quote left
#: open does not read the whole file into one cell.
MAX_CELL = 16 * 1024 * 1024
#: Longest line read. Lines are read whole, so a file of one endless line (a JSON array
#: written on one line, a binary file) is refused at this size rather than read into memory.
MAX_LINE = 4 * MAX_CELL


class FileRefused(Exception):
    """A whole-file problem: refuses the import even with ``skip_invalid``."""

    def __init__(self, line: int, message: str, errors: list[dict]):
        super().__init__(message)
        self.line, self.message, self.errors = line, message, errors


def detect_format(path: str, fmt: str | None) -> str:
    """``fmt`` if given, else ``csv`` or ``jsonl`` from the file extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ValidationError(f"unknown format {fmt!r}: use csv or jsonl")
        return fmt
    ext = Path(path).suffix.lower()
    if ext == ".csv":
        return "csv"
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ValidationError(f"cannot tell the format of {path}: give --format csv or --format jsonl")


# -- reading ----------------------------------------------------------------------------
def _not_utf8(source: str, lineno: int, e: UnicodeDecodeError) -> FileRefused:
    if lineno == 1 and e.object[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a UTF-16 byte-order mark
        return FileRefused(1, f"{source} is UTF-16 text; save it as UTF-8", [{
            "pointer": "", "message": "the file starts with a UTF-16 byte-order mark: UTF-16 is not read "
                                      "(in Excel: Save As, CSV UTF-8)"}])
    return FileRefused(lineno, f"{source} is not UTF-8 text; save it as UTF-8", [{"pointer": "", "message": (
        f"byte 0x{e.object[e.start]:02x} at position {e.start + 1} of the line is not UTF-8 ({e.reason}): is "
        f"the file in a legacy encoding (Windows-1252, Windows-1256, GBK…)? save it as UTF-8 (in Excel: CSV "
        f"UTF-8), or convert it (iconv -f ENCODING -t utf-8)")}])


def _not_text(source: str, raw: bytes) -> FileRefused | None:
    """Line 1 of a file that is no text file at all (a workbook, UTF-16 without a byte-order
    mark, a binary file) — said so, rather than reported as odd column names or a row of
    invalid JSON. A NUL byte is in no CSV header and in no JSON text."""
    if raw.startswith(b"PK\x03\x04"):
        return FileRefused(1, f"{source} is a ZIP file (an Excel .xlsx workbook?), not CSV or JSONL text", [{
            "pointer": "", "message": "the file starts like a ZIP archive: save the sheet as CSV UTF-8"}])
    if b"\x00" in raw and raw[:2] not in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a BOM: named by _not_utf8
        return FileRefused(1, f"{source} is not UTF-8 text; save it as UTF-8", [{
            "pointer": "", "message": "it holds NUL bytes: the file is binary, or UTF-16 text without a "
                                      "byte-order mark (in Excel: Save As, CSV UTF-8)"}])
    return None


def _lines(f: IO[bytes], source: str, cr_lines: list | None = None) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of each physical line of ``f``, the BOM of line 1 dropped.

    Lines end with LF (or CRLF); a file whose first line ends with a lone CR — classic Mac
    line endings, as old Excel for Mac saves CSV and some tools write JSON Lines — is read
    as lines ending with CR instead, and ``"CR"`` is appended to ``cr_lines`` if given
    (:func:`_cr_lines`).

    Whole-file problems both formats share are refused here: a line longer than MAX_LINE
    (read bounded, so it never enters memory whole; a bounded readline costs next to
    nothing over iterating the file) and a first line that is no text (:func:`_not_text`).
    """
    raws = _cr_lines(f, cr_lines if cr_lines is not None else [])
    for lineno, raw in enumerate(raws, 1):
        if len(raw) > MAX_LINE:
            raise _too_long(source, lineno)
        if lineno == 1:
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            refused = _not_text(source, raw)
            if refused is not None:
                raise refused
        yield lineno, raw


#: Bytes read at a time of a file with classic Mac line endings (and to look for them).
CR_CHUNK = 64 * 1024


def _cr_lines(f: IO[bytes], ends: list) -> Iterator[bytes]:
    """The physical lines of ``f``: ended by LF or CRLF, or by CR when the first line is.

    A file is taken to have classic Mac line endings when its first line holds a CR that a
    LF does not follow: no header has one otherwise (a CR in a quoted field name would name
    no field), nor a JSON Lines row (JSON text has a CR only as a line break's or as
    whitespace between tokens, which no JSON Lines writer puts there). Its lines then end with CR (or CRLF), and a lone LF is no line end — as in
    a file of LF lines a lone CR is none: either stays inside a quoted cell as written
    (and in an unquoted one is refused by the CSV reader). Each line is at most
    MAX_LINE + 1 bytes (:func:`_lines` refuses a longer one); memory stays flat.
    """
    parts, size = [], 0
    while True:  # the first line, or its start up to a CR and the byte after it
        part = f.readline(CR_CHUNK)
        parts.append(part)
        size += len(part)
        if len(part) < CR_CHUNK or part.endswith(b"\n") or size > MAX_LINE:
            break
        cr = part.find(b"\r")
        if cr != -1 and cr + 1 < len(part):
            break
    head = b"".join(parts)
    cr = head.find(b"\r")
    if cr == -1 or cr + 1 == len(head) or head[cr + 1] == 0x0A:
        # LF or CRLF lines: the first is whole (or longer than MAX_LINE: refused by _lines)
        if head:
            yield head
        yield from iter(functools.partial(f.readline, MAX_LINE + 1), b"")
        return
    ends.append("CR")
    buf, pos = head, 0
    while True:
        cr = buf.find(b"\r", pos)
        if cr != -1 and cr + 1 < len(buf):  # the byte after it tells CR from CRLF
            end = cr + 2 if buf[cr + 1] == 0x0A else cr + 1
            if end - pos > MAX_LINE:
                yield buf[pos:pos + MAX_LINE + 1]
                return
            yield buf[pos:end]
            pos = end
            continue
        if cr == -1 and len(buf) - pos > MAX_LINE:
            yield buf[pos:pos + MAX_LINE + 1]
            return
        more = f.read(CR_CHUNK)
        if not more:
            if pos < len(buf):
                yield buf[pos:]
            return
        buf, pos = buf[pos:] + more, 0


def _too_long(source: str, lineno: int) -> FileRefused:
    return FileRefused(lineno, f"{source} has a line longer than {MAX_LINE:,} bytes", [{
        "pointer": "", "message": f"the line is longer than {MAX_LINE:,} bytes: is this a CSV or JSONL file "
                                  f"(one record per line)?"}])


#: The keys of a whole record (DESIGN §3) that a row of data does not have all of.
_RECORD_KEYS = frozenset({"id", "type", "data", "version"})
#: The keys of a page of the REST API's record lists.
_PAGE_KEYS = frozenset({"items", "next"})


def _not_data(value: dict, declared: frozenset) -> str | None:
    """Why the JSONL row ``value`` is records as other tools give them, not a record's data
    (None when it may be data): a whole record, or a page of the REST API's list.

    Only a row naming none of the fields the type declares is suspected, so data that
    merely has such keys besides its fields (and a type declaring no field) imports as it is.
    """
    if not declared or not declared.isdisjoint(value):
        return None
    if _RECORD_KEYS <= value.keys() and isinstance(value["data"], dict):
        return ("the row is a whole record (id, type, data, version…), not a record's data: import reads one data "
                "object per line (for records list --json: jq -c '.[].data')")
    if value.keys() == _PAGE_KEYS and isinstance(value["items"], list):
        return ("the row is a page of the REST API's records ({\"items\", \"next\"}), not a record's data: import "
                "reads one data object per line (jq -c '.items[].data')")
    return None


def _cut_short(raw: bytes) -> bool:
    """Whether line ``raw`` is the start of a JSON value that goes on past the line's end."""
    try:
        orjson.loads(raw.rstrip(b"\r\n"))
    except orjson.JSONDecodeError as e:
        return e.msg == "unexpected end of data"
    return False


def jsonl_rows(f: IO[bytes], source: str, et=None) -> Iterator[tuple[int, object, list]]:
    """The rows of a JSON Lines file. With the entity type ``et``, a row that is a whole
    record (``{"id", "type", "data", "version", …}``, as ``records list --json`` or the API
    give it) or a page of the API's list (``{"items", "next"}``) rather than a record's data
    is invalid (see :func:`_not_data`)."""
    declared = frozenset(et.properties()) if et is not None else None
    for lineno, raw in _lines(f, source):
        if lineno == 1 and raw.strip() in (b"[", b"{"):  # no JSON Lines row is that: a pretty-printed document
            raise FileRefused(1, f"{source} is one JSON document over many lines, not JSON Lines", [{
                "pointer": "", "message": "import reads one JSON object per line: write the rows one per "
                                          "line (for a JSON array: jq -c '.[]')"}])
        if not raw.strip():
            continue
        if raw.startswith(codecs.BOM_UTF8):
            # A file joined after the first (cat a.jsonl b.jsonl) brings its byte-order mark
            # along; outside any JSON value it means nothing (RFC 8259 lets readers ignore it).
            raw = raw[3:]
        try:
            value = loads_exact(raw)  # bytes in: orjson also checks the UTF-8
        except (RepeatedKey, InexactNumber) as e:
            yield lineno, None, [{"pointer": e.pointer, "message": e.msg}]
            continue
        except orjson.JSONDecodeError as e:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as u:
                raise _not_utf8(source, lineno, u) from None
            message = f"invalid JSON at column {e.colno}: {e.msg}"
            if _cut_short(raw):
                # orjson calls the line break that ends an unfinished string a control
                # character: say what it is, and the likely cause.
                message = ("invalid JSON: the line ends before its JSON value does "
                           "(a line break inside a text? JSON Lines writes it as \\n)")
            elif raw.lstrip().startswith((b"#", b"//", b"/*")):
                message += " (JSON has no comments: delete the line)"
            elif lineno == 1 and not raw.lstrip().startswith((b"{", b"[")) and b"," in raw:
                message += " (is this a CSV file? give --format csv)"
            yield lineno, None, [{"pointer": "", "message": message}]
            continue
        if isinstance(value, dict):
            # Only a row naming none of the declared fields is looked at (one early-exit
            # membership test per row: this is the import's hot path).
            why = _not_data(value, declared) if declared and declared.isdisjoint(value) else None
            if why is not None:
                yield lineno, None, [{"pointer": "", "message": why}]
                continue
            yield lineno, value, []
        else:
            kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
            message = f"a row must be a JSON object, not {kind}"
            if lineno == 1 and isinstance(value, list) and value and isinstance(value[0], dict):
                message += " (the rows as one JSON array? write one object per line)"
            yield lineno, None, [{"pointer": "", "message": message}]


class _TextLines:
    """Physical lines decoded as UTF-8 (the BOM of line 1 dropped), so csv's line count is
    the file's. ``first`` is the first line read since it was last set to None: the line a
    CSV row starts on, as written (csv's cells no longer tell a bare cell from a quoted one).
    """

    def __init__(self, f: IO[bytes], source: str):
        #: ``["CR"]`` once the file is found to have classic Mac line endings (see :func:`_cr_lines`)
        self.ends: list[str] = []
        self.lines, self.source = _lines(f, source, cr_lines=self.ends), source
        self.first: str | None = None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        lineno, raw = next(self.lines)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _not_utf8(self.source, lineno, e) from None
        if self.first is None:
            self.first = text
        return text


def _csv_error(source: str, line: int, e: csv.Error, cr_file: bool = False) -> FileRefused:
    """Malformed CSV in the row that starts on ``line``, said in the user's terms (``cr_file``:
    the file's lines end with CR, see :func:`_cr_lines`)."""
    message = str(e)
    if message.startswith("unexpected end of data"):
        message = f"a quoted cell in the row that starts on line {line} is never closed: the file ends inside it"
    elif message.startswith("new-line character seen in unquoted field"):
        message = ("a line break (LF) inside an unquoted cell of a file whose lines end with CR: quote the cell, "
                   "or save the file with one kind of line ending") if cr_file else (
            "a line break (CR) inside an unquoted cell: quote the cell, or save the file with CRLF or LF line endings")
    elif message.startswith("field larger than field limit"):
        message = (f"a cell is larger than {csv.field_size_limit()} characters: is a quote left open "
                   f"on line {line}?")
    elif message.endswith("expected after '\"'"):
        message = (f"{message}: a quote inside a quoted cell is written twice (\"\"), and nothing — not even a "
                   f"space — comes between a cell's closing quote and the next comma")
    return FileRefused(line, f"{source} is not valid CSV", [{"pointer": "", "message": message}])


def csv_rows(f: IO[bytes], et, source: str) -> Iterator[tuple[int, object, list]]:
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    lines = _TextLines(f, source)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused(1, f"{source} is empty", [{"pointer": "", "message": "line 1 must be a header of "
                                                                                 "field names"}]) from None
    except csv.Error as e:
        raise _csv_error(source, 1, e, bool(lines.ends)) from None
    if not header:  # a blank first line: what follows would be checked against no columns at all
        raise FileRefused(1, f"{source} has no header", [{"pointer": "", "message": "line 1 must be a header of "
                                                                                       "field names, not blank"}])
    try:
        columns = CsvHeader(et, header)
    except ValidationError as e:
        errors = [{k: v for k, v in err.items() if k != "line"} for err in e.errors]
        sep = next((c for c in ";\t|" if len(header) == 1 and c in header[0]), None)
        if header[0].strip().lower().startswith("sep=") and len(header) <= 2:
            # Excel's "sep=;" line, which some tools write before the header for Excel to read.
            line = ",".join(header).strip()
            errors.append({"pointer": "", "message": f"{line!r} is a spreadsheet's separator line, not a header: "
                                                     f"delete it, so that the header is line 1"
                                                     + (", and save the file with commas between the cells"
                                                        if sep is not None else "")})
        elif sep is not None:  # e.g. Excel with a decimal comma writes ';' between cells
            errors.append({"pointer": "", "message": f"the header is one column holding {sep!r}: save the file "
                                                     f"with commas between the cells"})
        if header[0].lstrip().startswith("{"):
            errors.append({"pointer": "", "message": "it is a JSON object, not a header: is this a JSONL "
                                                     "file? give --format jsonl"})
        raise FileRefused(1, e.message, errors) from None
    # The header as written, to tell it again in a later row (a header over several lines,
    # a name with a line break in it, is not looked for).
    header_line = lines.first.rstrip("\r\n") if reader.line_num == 1 else None
    start = reader.line_num + 1
    while True:
        lines.first = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _csv_error(source, start, e, bool(lines.ends)) from None
        line, start = start, reader.line_num + 1
        if not any(cells):
            continue
        joined = _joined_file(lines.first, header_line)
        if joined:
            yield line, None, [{"pointer": "", "message": joined}]
            continue
        if len(cells) == 1 < columns.width and cells[0].isspace():
            # A line of stray spaces or tabs (an editor's trailing whitespace): blank, not a
            # row of one cell. (With one column it could be a value: exported text "  " is
            # written bare, so it is left to the column.)
            continue
        if len(cells) != columns.width:
            # Too few cells is as suspect as too many: a lost delimiter shifts every later
            # cell into the wrong column. (An empty cell still needs its comma.)
            yield line, None, [{"pointer": "", "message": f"the row has {len(cells)} cells but the header "
                                                          f"has {columns.width} columns"}]
            continue
        data, errors = columns.data(cells)
        yield line, data, errors


def _joined_file(first: str, header_line: str | None) -> str | None:
    """Why the row starting with the line ``first`` looks like the start of a second file
    joined to the first (``cat a.csv b.csv``, or sheets pasted one under the other), or None.

    Such a row is the header again — imported, it would be a record whose every field holds
    its own name — or a line starting with a byte-order mark (U+FEFF), which an unquoted
    cell would keep as an invisible first character. The line is compared as written: a
    header row written again is refused, a record whose cells merely equal the field names
    (which export writes fully quoted) is not.
    """
    text = first.rstrip("\r\n")
    if text.startswith("\ufeff"):
        if text[1:] == header_line:
            return ("the row repeats the header, after a byte-order mark: a second file joined to this one? "
                    "delete the line")
        return ("the line starts with a byte-order mark (U+FEFF) as a file does: a second file joined to this "
                "one? delete the mark, and the file's header line if it is there")
    if text == header_line:
        return "the row repeats the header: a second file joined to this one? delete the line"
    return None
