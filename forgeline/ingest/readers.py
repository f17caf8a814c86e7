"""Readers: turn one delivered file into batches of text columns, with each row's place in the file.

Every reader yields ``(columns, rows)`` batches where ``rows`` are lists of strings or None and the last
element of each row is its row number in the file (CSV line or Excel row), so errors and lineage can
point at it. Memory stays bounded by ``BATCH_ROWS`` whatever the file size.

Ingest loads CSV/TSV with DuckDB's parser instead (``csvload``): here :func:`prepare_text` checks the
encoding, transcodes what DuckDB cannot read and indexes the lines (:class:`LineIndex`), and the
line-by-line :func:`read_csv` stays the reference whose rows and words that path keeps (and reads what it
cannot: dry runs, files DuckDB's reader gives up on).

Before a text file is decoded, :func:`sniff_content` looks at what it really is, so the consultant gets
the right advice: an empty file, a ZIP/Excel workbook, PDF, image or compressed file named .csv, an HTML
(error) page saved as .csv, UTF-16 text, binary data (NUL bytes), or a line longer than
``MAX_LINE_BYTES`` (refused without ever holding that line in memory). With ``encoding: auto`` a file that
decodes as CP949 only into rare Korean syllables (a Western cp1252/latin-1 file such as ``230°C`` read as
``230캜``) is refused rather than loaded garbled.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import gzip
import io
import os
import queue
import re
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from forgeline.mapping.spec import SourceSpec

BATCH_ROWS = 20_000
AUTO_ENCODINGS = ("utf-8-sig", "cp949")
CHUNK = 1 << 20
# Non-UTF-8 text is transcoded to UTF-8 for DuckDB in blocks of this size (bounded memory, few calls).
TRANSCODE_BLOCK = 8 << 20
# The longest line a text file may have (bytes between two line breaks). A longer one is refused before
# anything is decoded: nobody's export has 1 MiB lines, and reading one whole would hold it in memory.
MAX_LINE_BYTES = 1 << 20
HEAD_BYTES = 4096

Batch = tuple[list[str], list[list[str | None]]]


class ReadError(ValueError):
    """A file that cannot be read as configured; the message says where and what to change."""


class MisreadEncoding(ReadError):
    """``encoding: auto`` decoded the file as CP949 into rare syllables: most likely cp1252/latin-1 text."""

    suggested = "cp1252"


class _Cancelled(Exception):
    """The passes over a file were told to stop (the load was interrupted): their result is not wanted."""


# Set in the thread that runs a CsvText's passes: their reads stop once it is set (CsvText.cancel).
_PASSES = threading.local()


class _CancellableReader:
    """A file handle whose reads stop the passes once they are cancelled (checked every block)."""

    def __init__(self, handle: IO[bytes], cancel: threading.Event) -> None:
        self._handle, self._cancel = handle, cancel

    def read(self, size: int = -1) -> bytes:
        if self._cancel.is_set():
            raise _Cancelled()
        return self._handle.read(size)

    def __enter__(self) -> _CancellableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _open_bytes(path: Path) -> IO[bytes]:
    handle = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115 (returned)
    cancel = getattr(_PASSES, "cancel", None)
    return handle if cancel is None else cast(IO[bytes], _CancellableReader(handle, cancel))


def _check_encoding(
    path: Path,
    encoding: str,
    watch: Callable[[str], None] | None = None,
    out: IO[bytes] | _Tee | None = None,
    lines: LineIndex | None = None,
) -> None:
    """Decode the whole file once, streaming, so a bad byte is found before anything is loaded.

    ``watch`` sees the decoded text, chunk by chunk (to judge it without a second pass). With ``out`` the
    text is written there as UTF-8 (transcoding in large blocks: DuckDB then parses it); ``lines`` indexes
    the line breaks of the UTF-8 bytes DuckDB will read (the file itself, or what ``out`` receives).
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with _open_bytes(path) as handle:
        while chunk := handle.read(TRANSCODE_BLOCK if out is not None else CHUNK):
            try:
                text = decoder.decode(chunk)
                if watch is not None:
                    watch(text)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                line = _lf_before(path, offset) + chunk[: exc.start].count(b"\n") + 1
                raise ReadError(
                    f"byte {bad:,} (line {line:,}) is not valid {encoding}: "
                    f"{chunk[exc.start : exc.start + 4]!r}"
                ) from exc
            if out is not None:
                data = text.encode("utf-8")
                out.write(data)
                if lines is not None:
                    lines.feed(data)
            elif lines is not None:
                lines.feed(chunk)
            offset += len(chunk)  # line breaks are counted again only for an error's line number
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ReadError(
                f"ends inside a multi-byte {encoding} character (line {_lf_before(path, offset) + 1:,}): "
                "the file was cut off during the export or the copy"
            ) from exc
    if lines is not None:
        lines.close()


class LineIndex:
    """What the loader must know of a UTF-8 byte stream, fed in blocks: its lines, any quote, its spaces.

    DuckDB's CSV reader numbers nothing and skips empty lines: the loader numbers rows in SQL and checks
    that they add up to the file's lines (``lines``, counted as Python's csv module counts them: CRLF, LF
    or CR); only when they do not does it look for empty lines (:func:`empty_lines`) or line breaks in
    quoted values (possible only if ``has_quote``). Costs a few single-byte counts per block.
    """

    def __init__(self) -> None:
        self.breaks = 0
        self.has_quote = False
        self.spaces: set[str] = set()  # whitespace other than " " and line breaks that the text holds
        self._held = b""  # a trailing CR, kept until the next block says whether an LF follows
        self._last = b""  # the last byte seen (does the stream end with a line break?)
        self._tail = b""  # the last bytes scanned: a space's UTF-8 bytes may straddle two blocks

    def feed(self, block: bytes) -> None:
        if not block:
            return
        self._last = block[-1:]
        data = self._held + block
        self._held = b""
        if data[-1:] == b"\r":  # maybe half of a CRLF
            self._held, data = b"\r", data[:-1]
        self._scan(data)

    def _scan(self, data: bytes) -> None:
        if not self.has_quote and b'"' in data:
            self.has_quote = True
        # str.strip() removes more than spaces; trimming those in SQL is slow, so note which occur. One
        # translate() keeps the bytes that start one (none in most exports; UTF-8 Korean has none).
        window = self._tail + data
        self._tail = window[-3:]  # a UTF-8 character is at most 4 bytes
        if found := window.translate(None, _NOT_SPACE_START):
            for space, encoded in _SPACES:
                if space not in self.spaces and encoded[:1] in found and encoded in window:
                    self.spaces.add(space)
        # A CR is looked for first (memchr): most exports have none, and counting costs a pass.
        lf, cr = data.count(b"\n"), (data.count(b"\r") if b"\r" in data else 0)
        self.breaks += lf + cr - (data.count(b"\r\n") if lf and cr else 0)

    def close(self) -> None:
        held, self._held = self._held, b""
        self._scan(held)

    @property
    def lines(self) -> int:
        """Lines in the stream (a last line without a line break counts)."""
        return self.breaks + (1 if self._last and self._last not in (b"\r", b"\n") else 0)


_EMPTY = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?=[\r\n])")


def empty_lines(path: Path) -> list[int]:
    """The 1-based numbers of a UTF-8 text file's empty lines (two line breaks in a row), streaming."""
    found: list[int] = []
    breaks = 0
    held = b""
    first = True
    with _open_bytes(path) as handle:
        while block := handle.read(TRANSCODE_BLOCK):
            if first and block[:1] in (b"\r", b"\n"):
                found.append(1)  # the file starts with a line break
            first = False
            data = held + block
            kept = data.rstrip(b"\r\n")  # breaks at the end wait: the next block may hold the second one
            held, data = data[len(kept) :], kept
            breaks = _empty_in(data, breaks, found)
    _empty_in(held, breaks, found)
    return found


def _empty_in(data: bytes, breaks: int, found: list[int]) -> int:
    at = 0
    for match in _EMPTY.finditer(data):
        breaks += _breaks(data, at, match.end())
        at = match.end()
        found.append(breaks + 1)
    return breaks + _breaks(data, at, len(data))


# Python's whitespace but " ", CR and LF, as UTF-8, and every byte that starts none of them.
_SPACES = [(c, c.encode()) for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c not in " \r\n"]
_NOT_SPACE_START = bytes(b for b in range(256) if b not in {e[0] for _, e in _SPACES})


def _breaks(data: bytes, start: int, end: int) -> int:
    return data.count(b"\n", start, end) + data.count(b"\r", start, end) - data.count(b"\r\n", start, end)


@functools.cache
def _hangul_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Hangul syllables of KS X 1001 (the 2,350 common ones) and the other 8,822 (CP949's UHC extension).

    Korean text is almost all common syllables. A Western (cp1252/latin-1) file read as CP949 turns a
    letter such as ``°`` or ``é`` followed by an ASCII letter into a rare one (``b"230\\xb0C"`` is
    ``230캜``), because the extension's second bytes are ASCII letters and 0x81-0xA0.
    """
    common = {
        bytes([lead, trail]).decode("cp949") for lead in range(0xB0, 0xC9) for trail in range(0xA1, 0xFF)
    }
    rare = [chr(c) for c in range(0xAC00, 0xD7A4) if chr(c) not in common]
    return re.compile(_char_class(sorted(common))), re.compile(_char_class(rare))


def _char_class(chars: list[str]) -> str:
    ranges: list[list[int]] = []
    for code in (ord(c) for c in chars):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


class _RareHangul:
    """Counts common and rare Hangul syllables in decoded CP949 text; remembers where the first rare is.

    Once the text is plainly Korean (``SETTLED`` common syllables, under 2 % rare) it stops counting: the
    rest of a large export cannot turn it into Western text, and counting costs a regex pass per chunk.
    """

    SETTLED = 20_000

    def __init__(self) -> None:
        self.common = 0
        self.rare = 0
        self.lines = 0
        self.first: tuple[int, str] | None = None  # line, the text around it
        self.settled = False

    def __call__(self, text: str) -> None:
        if self.settled:
            return
        if self.common >= self.SETTLED and self.rare * 50 < self.common:
            self.settled = True
            return
        if not text.isascii():
            common, rare = _hangul_patterns()
            found = len(text) - len(rare.sub("", text))
            self.rare += found
            self.common += len(text) - len(common.sub("", text))
            if found and self.first is None:
                match = rare.search(text)
                assert match is not None
                at = match.start()
                start = max(text.rfind("\n", 0, at) + 1, at - 30)
                end = text.find("\n", at)
                end = min(len(text) if end == -1 else end, at + 30)
                line = self.lines + text.count("\n", 0, at) + 1
                self.first = (line, text[start:end].strip())
        self.lines += text.count("\n")

    @property
    def suspicious(self) -> bool:
        """Mostly rare syllables: more rare than common ones."""
        return self.rare > self.common


def detect_encoding(path: Path, configured: str, check: Callable[..., None] = _check_encoding) -> str:
    """The configured encoding, checked; or with 'auto', UTF-8 (with or without BOM), else CP949.

    Under 'auto', CP949 text whose Korean syllables are mostly rare ones (outside KS X 1001's 2,350 common
    syllables) is refused (:class:`MisreadEncoding`): it is nearly always Western text misread. ``check``
    makes the decoding pass (``check(path, encoding, watch)``); :func:`prepare_text` transcodes in it.
    """
    if configured != "auto":
        try:
            codecs.lookup(configured)
        except LookupError as exc:
            raise ReadError(
                f"unknown encoding {configured!r} in mapping.yml; use e.g. utf-8, cp949 or auto"
            ) from exc
        try:
            check(path, configured, None)
        except ReadError as exc:
            raise ReadError(
                f"{exc}. Ask the client which encoding the export uses and set `encoding:` for this source "
                "in mapping.yml (or `auto` for UTF-8/CP949), or ask for a clean re-export"
            ) from exc
        return configured
    problems = []
    for encoding in AUTO_ENCODINGS:
        watch = _RareHangul() if encoding == "cp949" else None
        try:
            check(path, encoding, watch)
        except ReadError as exc:
            problems.append(f"{encoding}: {exc}")
            continue
        if watch is not None and watch.suspicious and watch.first is not None:
            line, seen = watch.first
            western = seen.encode("cp949").decode("cp1252", errors="replace")
            raise MisreadEncoding(
                f"does not look like Korean text: read as CP949, line {line:,} says {seen!r}, and "
                f"{watch.rare:,} of its {watch.rare + watch.common:,} Korean syllables are rare ones that "
                f"Korean exports hardly use. It is most likely Western text (cp1252/latin-1), where that "
                f"line says {western!r}. If that is what the client's system writes, set `encoding: cp1252` "
                "(or `latin-1`) for this source in mapping.yml; if it really is Korean, set `encoding: cp949`"
            )
        return encoding
    raise ReadError(
        "is neither UTF-8 nor CP949 (" + "; ".join(problems) + "). Ask the client which encoding the export "
        "uses and set `encoding:` for this source in mapping.yml."
    )


# Encodings DuckDB's CSV reader reads as they are (it skips a UTF-8 byte-order mark); others are transcoded.
_DUCKDB_READS = ("utf-8", "utf-8-sig", "ascii")


class CsvText:
    """A delivered text file made ready for DuckDB: UTF-8 (the file itself, or a transcoded copy) and its
    line index. Use as a context manager: a transcoded copy is removed on exit. ``validated`` is False when
    DuckDB is left to check that every byte is UTF-8 (its reject table then names a bad one).

    Made by :func:`open_text`, the passes over the whole file may still run beside DuckDB's parse: DuckDB's
    first read is of ``reads`` (the file itself, or a pipe the transcoded text arrives through), and
    :meth:`wait` joins the passes, raising their refusal; ``path``, ``encoding`` and ``lines`` are final
    after it.
    """

    def __init__(
        self,
        source: Path,
        path: Path,
        encoding: str,
        lines: LineIndex,
        temporary: bool,
        validated: bool = True,
    ) -> None:
        self.source = source
        self.path = path  # what DuckDB reads
        self.encoding = encoding  # the delivered file's encoding
        self.lines = lines
        self.temporary = temporary
        self.validated = validated
        self.reads = str(path)  # what DuckDB's first read of the file reads
        self.piped = False  # ``reads`` is a pipe of the text being transcoded
        self.transcoded = False  # the text went through the pipe only: no UTF-8 copy yet
        self.workdir: Path | None = None
        self._passes: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._cancel = threading.Event()
        self._pipe: int | None = None  # the pipe's read end, open while DuckDB may read it

    @property
    def read_encoding(self) -> str:
        """The encoding of ``path`` (for Python readers of it)."""
        return "utf-8" if self.temporary else self.encoding

    def _run(self, passes: Callable[[], None]) -> None:
        def run() -> None:
            _PASSES.cancel = self._cancel
            try:
                passes()
            except BaseException as exc:  # raised by wait(), in the caller's thread
                self._failed = exc

        self._passes = threading.Thread(target=run, name=f"forgeline-passes-{self.source.name}", daemon=True)
        self._passes.start()

    def done_reading(self) -> None:
        """DuckDB's first read is over: a transcoder still writing to the pipe then stops piping."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None

    def cancel(self) -> None:
        """The load was interrupted: stop the passes at their next block, wait for them, forget their
        verdict (the interrupt, not a refusal, is what the caller raises)."""
        self._cancel.set()
        self.done_reading()
        if self._passes is not None:
            self._passes.join()
        self._failed = None

    def wait(self) -> None:
        """Join the passes over the file; raise what they refused it for (each time it is asked)."""
        self.done_reading()
        if self._passes is not None:
            self._passes.join()
        if self._failed is not None:
            raise self._failed

    def materialize(self) -> None:
        """Write the UTF-8 copy of a file that was only piped: what reads DuckDB's bytes again (a rejected
        record, empty lines, a second read) needs them. Transcoded again: it is rarely asked."""
        if self.transcoded and not self.temporary:
            made = prepare_text(self.source, self.encoding, self.workdir)
            self.path, self.temporary = made.path, made.temporary

    def __enter__(self) -> CsvText:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None:
            # The load failed (a refusal was raised already) or was interrupted wherever it was: the passes'
            # verdict is not wanted any more, so they stop at their next block instead of reading on.
            self.cancel()
        self.done_reading()
        if self._passes is not None:
            self._passes.join()
        if self.temporary:
            self.path.unlink(missing_ok=True)


class _Tee:
    """Transcoded blocks to a pipe DuckDB reads, through a writer thread.

    The queue lets the transcoder go on while DuckDB parses what it has (a pipe holds 64 KiB to 1 MiB;
    DuckDB reads in large buffers); it holds at most ``QUEUED`` blocks. When DuckDB stops reading (it
    failed), the pipe breaks and the rest is dropped: the caller then reads the file again."""

    QUEUED = 4

    def __init__(self, pipe: int) -> None:
        self.pipe: int | None = pipe
        self.blocks: queue.Queue[bytes | None] = queue.Queue(self.QUEUED)
        self.writer = threading.Thread(target=self._drain, name="forgeline-pipe", daemon=True)
        self.writer.start()

    def _drain(self) -> None:
        while (block := self.blocks.get()) is not None:
            if self.pipe is None:
                continue  # keep draining: the transcoder must never block on a full queue
            try:
                view = memoryview(block)
                while view:
                    view = view[os.write(self.pipe, view) :]
            except OSError:  # BrokenPipeError: DuckDB is no longer reading
                self._close_pipe()
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None

    def write(self, data: bytes) -> None:
        self.blocks.put(data)

    def close(self) -> None:
        """The end of the text (or of the attempt): DuckDB sees the end of the file."""
        self.blocks.put(None)
        self.writer.join()


def prepare_text(
    path: Path,
    configured: str,
    workdir: Path | None = None,
    lines: LineIndex | None = None,
    *,
    validate: bool = False,
    pipe: _Tee | None = None,
) -> CsvText:
    """The file made ready for DuckDB: its encoding decided as :func:`detect_encoding` decides it and, unless
    DuckDB reads that encoding, transcoded to a UTF-8 file in ``workdir`` in the same pass (8 MiB blocks).

    ``lines`` is the index :func:`sniff_content` made of the delivered bytes. With it, a UTF-8 file is not
    read again unless ``validate``: under 'auto' its first MiB decides (CP949 fails at its first Korean
    byte), and DuckDB checks every byte while it parses; when it finds one that is not UTF-8, the loader
    calls this again with ``validate=True`` for the Python check's verdict and words (or CP949). ``pipe``
    receives the transcoded text instead of a copy (:func:`open_text`).
    """
    import tempfile

    if lines is not None and not validate:
        name = None if configured == "auto" else codecs.lookup(configured).name
        if name in ("utf-8", "utf-8-sig") or (configured == "auto" and _starts_as_utf8(path)):
            encoding = "utf-8-sig" if configured == "auto" else configured
            return CsvText(path, path, encoding, lines, temporary=False, validated=False)

    made: dict[str, Any] = {}

    def check(source: Path, encoding: str, watch: Callable[[str], None] | None) -> None:
        if codecs.lookup(encoding).name in _DUCKDB_READS:
            index = lines or LineIndex()
            _check_encoding(source, encoding, watch, lines=None if lines else index)
            made.update(path=source, lines=index, temporary=False)
            return
        index = LineIndex()  # of the UTF-8 text
        if pipe is not None:  # no copy: DuckDB reads the pipe; CsvText.materialize() writes one if asked
            _check_encoding(source, encoding, watch, out=pipe, lines=index)
            made.update(path=source, lines=index, temporary=False, piped=True)
            return
        handle, name = tempfile.mkstemp(prefix=".forgeline-", suffix=".utf8.csv", dir=workdir)
        target = Path(name)
        try:
            with open(handle, "wb") as out:
                _check_encoding(source, encoding, watch, out=out, lines=index)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        made.update(path=target, lines=index, temporary=True)

    try:
        encoding = detect_encoding(path, configured, check)
    except BaseException:
        if made.get("temporary"):
            made["path"].unlink(missing_ok=True)
        raise
    text = CsvText(path, made["path"], encoding, made["lines"], made["temporary"])
    text.transcoded = made.get("piped", False)
    return text


def _starts_as_utf8(path: Path) -> bool:
    """Whether the file's first MiB is UTF-8 (a character cut at the end of that MiB is fine)."""
    try:
        with _open_bytes(path) as handle:
            head = handle.read(CHUNK)
    except (OSError, EOFError, zlib.error):
        return False  # a damaged .gz: sniff_content names it
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and len(head) == CHUNK
    return True


def _header(raw: list, row_number: int, where: str | None = None) -> list[str]:
    where = where or f"row {row_number}"
    # A BOM left by a UTF-8 export read as plain utf-8 would otherwise glue itself to the first name.
    names = ["" if v is None else str(v).replace("\ufeff", "").strip() for v in raw]
    while names and names[-1] == "":
        names.pop()  # trailing empty cells are not columns
    if not names:
        raise ReadError(
            f"{where} should hold the column names but is empty: fix `header_row` in mapping.yml if the "
            "names are on another row, or ask the client to send the export again"
        )
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        after = names[empty[0] - 2] if empty[0] > 1 else None
        place = f" (the first one after column {after!r})" if after else ""
        raise ReadError(
            f"{where}: column(s) {empty}{place} have no header name; ask the client to name them in the "
            "export (or to leave the empty columns out), or fix `header_row` if this is not the header"
        )
    # DuckDB column names ignore case, so 'Date' and 'date' would collide in the raw table.
    seen: set[str] = set()
    duplicates = sorted({n for n in names if n.casefold() in seen or seen.add(n.casefold())})
    if duplicates:
        raise ReadError(
            f"{where}: header(s) {duplicates} appear more than once (case is ignored): a column would be "
            "lost. Ask the client to rename them in the export, or fix `header_row` if this is not the header"
        )
    return names


def _fit(values: list, width: int, row_number: int, is_csv: bool = False) -> list[str | None] | None:
    """Row values padded/trimmed to the header width; None for a blank row; error for a ragged one.

    Spreadsheet rows legitimately end early (trailing empty cells are not stored); a CSV writer writes
    every delimiter, so a short CSV row means a broken line (e.g. a line break inside an unquoted field).
    """
    if is_csv and len(values) == width:
        # The common case, kept lean (it runs once per row of files with millions of rows): CSV cells
        # are always text; blank means missing.
        stripped = [v.strip() or None for v in values]
        return stripped if any(stripped) else None
    cells = [None if v is None or (isinstance(v, str) and v.strip() == "") else v for v in values]
    if all(c is None for c in cells):
        return None
    unit = "line" if is_csv else "row"  # a CSV record is found by its line, a spreadsheet row by number
    if len(cells) < width and is_csv:
        raise ReadError(
            f"{unit} {row_number} has {len(cells)} field(s) but the header has {width} (it starts "
            f"{values[:3]!r}). The line is broken (a line break or delimiter inside an unquoted value?): "
            "ask the client for a clean export, or fix the line"
        )
    if len(cells) > width:
        extra = [c for c in cells[width:] if c is not None]
        if extra and is_csv:
            raise ReadError(
                f"{unit} {row_number} has {len(cells)} fields but the header has {width}: {extra[:3]!r} "
                "beyond the last column. Fix the delimiter (`delimiter:` in mapping.yml) or the row"
                + (" (or `header_row`, if the header is on another line)" if width == 1 else "")
            )
        if extra:  # a spreadsheet has no delimiter: the header row is too short, or it is not the header
            raise ReadError(
                f"{unit} {row_number} has {len(cells)} values but the header has {width}: {extra[:3]!r} "
                "beyond the last named column. If the column names are on another row (a title above them?), "
                "fix `header_row` in mapping.yml; otherwise ask the client to name every column"
            )
        cells = cells[:width]
    return [_text(c) for c in cells] + [None] * (width - len(cells))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _batches(header: list[str], rows: Iterator[tuple[int, list]], is_csv: bool = False) -> Iterator[Batch]:
    batch: list[list[str | None]] = []
    for row_number, values in rows:
        fitted = _fit(values, len(header), row_number, is_csv)
        if fitted is None:
            continue
        batch.append([*fitted, str(row_number)])
        if len(batch) >= BATCH_ROWS:
            yield header, batch
            batch = []
    if batch:
        yield header, batch


def _csv_records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted value may span lines; line_num is the last)."""
    start = reader.line_num + 1
    try:
        for values in reader:
            yield start, values
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _csv_error(exc, start, reader.line_num) from exc


def _skipping(rows: Iterator[tuple[int, list]], count: int) -> Iterator[tuple[int, list]]:
    """Rows after the header, less the first ``count`` (e.g. a units row under the header)."""
    for _ in range(count):
        if next(rows, None) is None:
            break
    return rows


def read_csv(path: Path, spec: SourceSpec, encoding: str) -> Iterator[Batch]:
    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=spec.field_delimiter)
        try:
            header, _ = read_csv_header(reader, spec)
            yield from _batches(header, _skipping(_csv_records(reader), spec.skip_rows), is_csv=True)
        except csv.Error as exc:
            raise _csv_error(exc, reader.line_num, reader.line_num) from exc


def read_csv_header(reader: Any, spec: SourceSpec) -> tuple[list[str], int]:
    """The header (the record on line ``header_row``, or ``columns:`` when it is 0), checked against the
    delimiter, and how many records were read to reach it. ``reader`` is a ``csv.reader``."""
    header: list[str] | None = None
    records = 0
    if spec.header_row == 0:
        header = _header(list(spec.columns or []), 0, where="`columns:` in mapping.yml")
    else:
        for values in reader:
            records += 1
            if reader.line_num >= spec.header_row:
                header = _header(values, reader.line_num)
                break
    if header is None:
        raise ReadError(
            f"has no header row (expected on line {spec.header_row}): it is empty or shorter. Ask "
            "the client to send the export again, or fix `header_row` in mapping.yml"
        )
    _check_delimiter(header, spec)
    return header, records


def _csv_error(exc: csv.Error, start: int, now: int) -> ReadError:
    """A CSV parse error, at the line where the broken record starts."""
    if "field larger than field limit" in str(exc):
        return ReadError(
            f"line {start:,}: a value that starts on this line runs on for more than "
            f"{csv.field_size_limit():,} characters (to line {now:,}), the longest a cell may be: most "
            "likely a quote that is never closed, which makes the rest of the file one value. Fix the "
            "quoting, or ask the client for a clean export"
        )
    return ReadError(
        f"line {start:,}: {exc}. Fix the quoting or `delimiter:` in mapping.yml, or ask the client for a "
        "clean export"
    )


def _check_delimiter(header: list[str], spec: SourceSpec) -> None:
    """A header of one column that holds another delimiter: the file is split with the wrong one."""
    if len(header) != 1 or spec.header_row == 0:  # names from `columns:`, not from the file
        return
    for other, setting in ((";", "';'"), ("\t", "'\\t' (or `format: tsv`)"), ("|", "'|'"), (",", "','")):
        if other != spec.field_delimiter and header[0].count(other) >= 1:
            shown = "tabs" if other == "\t" else repr(other)
            raise ReadError(
                f"header row {spec.header_row or 1} is one column, {header[0][:60]!r}: its values seem to be "
                f"separated by {shown}, not {spec.field_delimiter!r}. Set `delimiter: {setting}` for this "
                "source in mapping.yml"
            )


_JSON_KIND = {list: "array", str: "string", int: "number", float: "number", bool: "true/false"}


def read_jsonl(path: Path, encoding: str) -> Iterator[Batch]:
    """JSON lines: one object per line; the columns are the keys (a later key adds a column)."""
    import json

    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        header: list[str] = []
        batch: list[dict] = []
        numbers: list[int] = []

        def flush() -> Batch:
            rows = [
                [_cell(record.get(name)) for name in header] + [str(n)]
                for record, n in zip(batch, numbers, strict=True)
            ]
            return list(header), rows

        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReadError(
                    f"line {number:,} is not valid JSON ({exc.msg}): fix the line, or ask the client for a "
                    "clean export (JSON lines: one object per line)"
                ) from exc
            if not isinstance(record, dict):
                raise ReadError(
                    f"line {number:,} is a JSON {_JSON_KIND.get(type(record), 'value')}, not an object "
                    "({...}): JSON lines hold one record (object) per line. Ask the client to export one "
                    "object per line"
                )
            for key in record:
                if key not in header:
                    # Columns ignore case in the warehouse: 'Machine' beside 'machine' would lose one.
                    clash = next((k for k in header if k.casefold() == str(key).casefold()), None)
                    if clash is not None:
                        raise ReadError(
                            f"line {number:,}: key {key!r} differs only in case from {clash!r} of earlier "
                            "lines, and one of them would be lost. Ask the client to spell each key the same "
                            "way in every record"
                        )
                    header.append(str(key))
            batch.append(record)
            numbers.append(number)
            if len(batch) >= BATCH_ROWS:
                _header(header, 0, where="the JSON keys")
                yield flush()
                batch, numbers = [], []
        if batch:
            _header(header, 0, where="the JSON keys")
            yield flush()


def _cell(value: object) -> str | None:
    """A JSON value as text; nested lists and objects stay JSON text."""
    import json

    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _text(value)
    return text or None


def read_excel(path: Path, spec: SourceSpec) -> Iterator[Batch]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a damaged or non-xlsx file
        if isinstance(exc, zipfile.BadZipFile):  # a workbook is a ZIP: its directory, at the end, is missing
            raise ReadError(
                f"is a damaged or cut-off Excel workbook ({exc}): the export or the copy was incomplete. "
                "Ask the client to send it again"
            ) from exc
        raise ReadError(f"cannot be opened as an Excel workbook ({exc}); re-save it as .xlsx") from exc
    try:
        if spec.sheet and spec.sheet not in workbook.sheetnames:
            raise ReadError(
                f"has no sheet {spec.sheet!r}; its sheets are {workbook.sheetnames}. Fix `sheet:`"
            )
        sheet = workbook[spec.sheet] if spec.sheet else workbook.worksheets[0]
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        header = _header(list(spec.columns or []), 0, where="`columns:`") if spec.header_row == 0 else None
        for number, values in rows if header is None else ():
            if number == spec.header_row:
                header = _header(list(values), number)
                break
        if header is None:
            raise ReadError(
                f"sheet {sheet.title!r} has fewer than {spec.header_row} rows; check `header_row`"
            )
        yield from _batches(header, _skipping(((n, list(v)) for n, v in rows), spec.skip_rows))
    finally:
        workbook.close()


def read_parquet(path: Path) -> Iterator[Batch]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise ReadError(f"is not a readable Parquet file ({exc})") from exc
    header = _header(list(parquet.schema_arrow.names), 0, where="the Parquet schema")
    offset = 0
    for record_batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        columns = [record_batch.column(i).to_pylist() for i in range(record_batch.num_columns)]
        rows = []
        for i in range(record_batch.num_rows):
            # An empty string is a missing value, as an empty CSV or Excel cell is.
            rows.append([_cell(col[i]) for col in columns] + [str(offset + i + 1)])  # lists as JSON
        offset += record_batch.num_rows
        yield header, rows


# What a file really is, by its first bytes: (magic, what it is, what to do).
_UNPACK = "unpack it and deliver the files inside"
_EXPORT_AGAIN = "ask the client for the data export itself (CSV or Excel)"
_MAGIC: list[tuple[bytes, str, str]] = [
    (b"PK\x03\x04", "a ZIP archive", _UNPACK),
    (b"PK\x05\x06", "an empty ZIP archive", "ask the client to send the export again"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel 97-2003 workbook (.xls) or another old Office file",
        "ask the client to save it as CSV, or as .xlsx for a source with `format: excel`",
    ),
    (b"%PDF", "a PDF document", _EXPORT_AGAIN + ", not a printout"),
    (b"\x1f\x8b", "gzip-compressed", "rename it to end in .gz (e.g. shots.csv.gz), then it is read as it is"),
    (b"PAR1", "a Parquet file", "deliver it to a source with `format: parquet`"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _UNPACK),
    (b"Rar!\x1a\x07", "a RAR archive", _UNPACK),
    (b"\xfd7zXZ\x00", "an xz-compressed file", _UNPACK),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", _UNPACK),
    (b"BZh91AY&SY", "a bzip2-compressed file", _UNPACK),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _EXPORT_AGAIN + ", not a screenshot"),
    (b"\xff\xd8\xff", "a JPEG image", _EXPORT_AGAIN + ", not a photo or screenshot"),
    (b"GIF8", "a GIF image", _EXPORT_AGAIN),
    (b"SQLite format 3\x00", "an SQLite database", _EXPORT_AGAIN),
]
_BOMS = [  # longest first: a UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32", "utf-32"),
    (b"\x00\x00\xfe\xff", "UTF-32", "utf-32"),
    (b"\xff\xfe", "UTF-16", "utf-16"),
    (b"\xfe\xff", "UTF-16", "utf-16"),
]
_KIND = {"csv": "a CSV text file", "tsv": "a tab-separated text file", "jsonl": "a JSON lines text file"}
_WIDE_ENCODINGS = ("utf-16", "utf-32")  # codecs.lookup(...).name of every UTF-16/32 spelling


def _zip_contents(path: Path) -> str:
    """What a ZIP file holds: an Office document (xlsx, docx…) or an archive of files."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "a damaged ZIP archive"
    if "xl/workbook.xml" in names:
        return "an Excel workbook (.xlsx)"
    if "word/document.xml" in names:
        return "a Word document (.docx)"
    if any(n.startswith("ppt/") for n in names):
        return "a PowerPoint file"
    shown = ", ".join(repr(n) for n in names[:3]) + (", …" if len(names) > 3 else "")
    return f"a ZIP archive of {len(names)} file(s) ({shown})"


def _markup(head: bytes) -> tuple[str, str] | None:
    """An HTML page or XML document (what it is, what to do), from the start of the file."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<table", b"<meta")):
        title = re.search(rb"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
        titled = ""
        if title and title.group(1).strip():
            text = " ".join(title.group(1).decode("utf-8", errors="replace").split())[:80]
            titled = f" titled {text!r}"
        return (
            f"an HTML web page{titled}, e.g. an error or login page saved instead of the export, or a "
            "system's 'Excel export' that writes an HTML table",
            "download the export again (if it is a table, open it in Excel and save it as .xlsx or CSV)",
        )
    if start.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            return "an Excel 2003 XML spreadsheet", "ask the client to save it as .xlsx or CSV"
        return "an XML document", "ask the client for a CSV export, or for the agreed format"
    return None


_DAMAGED_GZIP = "is a damaged or cut-off gzip file ({exc}): ask the client to send it again"


def _head(path: Path) -> bytes:
    try:
        with _open_bytes(path) as handle:
            return handle.read(HEAD_BYTES)
    except gzip.BadGzipFile as exc:
        raise ReadError(
            "is named .gz but is not gzip-compressed: ask the client to send it again, or remove the .gz "
            "ending if it is a plain file"
        ) from exc
    except (EOFError, zlib.error) as exc:
        raise ReadError(_DAMAGED_GZIP.format(exc=exc)) from exc


def _looks_like_text(head: bytes) -> bool:
    """Whether the first bytes read as text (UTF-8 or CP949, no control bytes but tabs and line breaks)."""
    for encoding in ("utf-8", "cp949"):
        try:
            text = head.decode(encoding, errors="strict")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                continue
            text = head[: exc.start].decode(encoding)
        return bool(text) and all(c.isprintable() or c in "\t\r\n" for c in text)
    return False


def _scan_text(path: Path, check_nul: bool, lines: LineIndex | None = None) -> None:
    """One streaming pass: no NUL byte (binary data) and no line longer than ``MAX_LINE_BYTES``.

    Never holds more than one chunk: a 50 MB line is found without reading it as a line.
    """
    limit = MAX_LINE_BYTES
    run = 0  # bytes since the last line break (LF or CR)
    quotes = 0  # double quotes since the last line break
    offset = 0
    try:
        with _open_bytes(path) as handle:
            while chunk := handle.read(min(CHUNK, limit)):  # a chunk never holds a whole too-long line
                if check_nul and (nul := chunk.find(b"\x00")) != -1:
                    at = _lf_before(path, offset) + chunk.count(b"\n", 0, nul) + 1
                    raise ReadError(
                        f"holds binary data: a NUL byte at byte {offset + nul:,} (line {at:,}), which no "
                        "text export has. It is not a text export, or it was damaged in the copy: ask the "
                        "client to export it again as CSV"
                    )
                breaks = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i != -1]
                run += min(breaks) if breaks else len(chunk)
                quotes += chunk.count(b'"', 0, min(breaks) if breaks else len(chunk))
                if run > limit:
                    # An odd number of quotes: a quoted value opened on this line is never closed.
                    why = (
                        'a quoted value opened on it is never closed (a missing closing quote `"`), so '
                        "the rest of the file reads as one value. Fix the quote on that line, or ask the "
                        "client for a clean export"
                        if quotes % 2
                        else "this is not a line-by-line text export, or its line breaks were lost. Ask the "
                        "client for a clean export"
                    )
                    line = _lf_before(path, offset) + 1  # the line the run of bytes is on
                    raise ReadError(
                        f"line {line:,} is longer than {limit:,} bytes without a line break (the limit of "
                        f"a line): {why}"
                    )
                if breaks:
                    tail = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
                    run = len(chunk) - tail
                    quotes = chunk.count(b'"', tail)
                offset += len(chunk)
                if lines is not None:
                    lines.feed(chunk)
        if lines is not None:
            lines.close()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ReadError(_DAMAGED_GZIP.format(exc=exc)) from exc


def _lf_before(path: Path, offset: int) -> int:
    """The LFs in the file's first ``offset`` bytes: counted again only for an error's line number, so the
    scan does not count every chunk."""
    count = 0
    with _open_bytes(path) as handle:
        while offset > 0 and (chunk := handle.read(min(CHUNK, offset))):
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count


def sniff_content(
    path: Path, format: str = "csv", encoding: str = "auto", lines: LineIndex | None = None
) -> None:
    """Refuse a file that is not what its source says, naming what it really is and what to do.

    Runs before the encoding check. For every format: an empty file, and a file whose first bytes say it
    is something else (ZIP, Office, PDF, image, archive, HTML or XML page). For text formats (csv, tsv,
    jsonl) also UTF-16/32 text unless that encoding is configured, NUL bytes (binary data) and lines
    longer than ``MAX_LINE_BYTES``, in one streaming pass of bounded memory. Raises :class:`ReadError`.
    """
    check_nul = _sniff_head(path, format, encoding)
    if check_nul is not None:
        _scan_text(path, check_nul, lines)


def _sniff_head(path: Path, format: str, encoding: str) -> bool | None:
    """What :func:`sniff_content` decides from the file's first bytes (raises :class:`ReadError`); then
    whether its streaming pass (:func:`_scan_text`) looks for NUL bytes, or None: no such pass (Excel,
    Parquet)."""
    compressed = path.suffix == ".gz"
    if path.stat().st_size == 0:
        raise ReadError("is empty (0 bytes): the export or the copy failed. Ask the client to send it again")
    head = _head(path)
    if not head:
        raise ReadError("holds nothing once decompressed: ask the client to send it again")
    expected = {"excel": b"PK\x03\x04", "parquet": b"PAR1"}.get(format)
    if expected is not None:
        if head.startswith(expected):
            return None
        what = next((w for magic, w, _ in _MAGIC if head.startswith(magic)), None)
        markup = _markup(head)
        if what is None and markup is None and _looks_like_text(head):
            kind = "an Excel workbook (.xlsx)" if format == "excel" else "a Parquet file"
            raise ReadError(
                f"is plain text (CSV or similar), not {kind}, though it is named {path.name}: deliver it to "
                "a source with `format: csv` (rename it .csv), or ask the client for the real workbook"
            )
        if what is None and markup is None:
            return None  # the reader says what is wrong with it
        what, todo = markup if what is None else (what, "ask the client to send the agreed format")
        kind = "an Excel workbook (.xlsx)" if format == "excel" else "a Parquet file"
        raise ReadError(f"is {what}, not {kind}: {todo}")
    kind = _KIND.get(format, "a text file")
    try:
        wide = codecs.lookup(encoding).name.startswith(_WIDE_ENCODINGS)
    except LookupError:  # "auto", or a codec the encoding check names
        wide = False
    for bom, name, setting in _BOMS:
        if head.startswith(bom):
            if wide:
                return False
            raise ReadError(
                f"is {name} text (it starts with a {name} byte-order mark): set `encoding: {setting}` for "
                "this source in mapping.yml, or ask the client to export UTF-8"
            )
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            if magic == b"\x1f\x8b" and compressed:
                continue  # a .gz of a gzip: the reader unpacks one layer only
            if magic == b"PK\x03\x04" and not compressed:
                what = _zip_contents(path)
                if what.startswith("an Excel"):
                    todo = (
                        "ask the client to save it as CSV (in Excel: Save As, CSV), or deliver it as .xlsx "
                        "to a source with `format: excel`"
                    )
            raise ReadError(f"is {what}, not {kind} (though it is named {path.name}): {todo}")
    markup = _markup(head)
    if markup is not None:
        raise ReadError(f"is {markup[0]}, not {kind}: {markup[1]}")
    if format == "jsonl" and head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"["):
        raise ReadError(
            "is one JSON array, not JSON lines (one object per line): ask the client to export JSON lines, "
            "or to export the records as CSV"
        )
    odd, even = head[1::2].count(b"\x00"), head[0::2].count(b"\x00")
    half = len(head) // 2
    if not wide and len(head) >= 16 and max(odd, even) * 3 >= half and min(odd, even) * 50 <= half:
        # Zeros in every other byte only (zeros everywhere are binary data, e.g. a crash's padding).
        odd = odd > even
        raise ReadError(
            "looks like UTF-16 text without a byte-order mark (every other byte is 0): set "
            f"`encoding: {'utf-16-le' if odd else 'utf-16-be'}` for this source in mapping.yml, or ask the "
            "client to export UTF-8"
        )
    return not wide


def open_text(path: Path, format: str, configured: str, workdir: Path | None = None) -> CsvText:
    """A CSV/TSV file made ready for DuckDB, the passes over the whole file running beside DuckDB's parse.

    What the file is by its first bytes is decided now (:func:`sniff_content`). The streaming passes (the
    sniff scan, then the encoding check and transcode) run in a thread while DuckDB parses, which releases
    the GIL: a UTF-8 file is read by DuckDB as it is while the scan indexes its lines (DuckDB checks every
    byte); a file to transcode (CP949, or under 'auto' a file whose first MiB is not UTF-8) reaches DuckDB
    through a pipe, block by block, as it is transcoded (a UTF-8 copy is written only if something must
    read DuckDB's bytes again: :meth:`CsvText.materialize`; Python readers read the file itself in its
    encoding). :meth:`CsvText.wait` raises what the passes refuse, in the order they ran: the caller lets
    that win over anything DuckDB or the header said meanwhile, as when the passes ran first. Any other
    encoding DuckDB reads (ascii) is prepared before DuckDB reads it.
    """
    check_nul = _sniff_head(path, format, configured)
    assert check_nul is not None  # a text format
    name = None if configured == "auto" else codecs.lookup(configured).name
    if name in ("utf-8", "utf-8-sig") or (configured == "auto" and _starts_as_utf8(path)):
        lines = LineIndex()
        encoding = "utf-8-sig" if configured == "auto" else configured
        text = CsvText(path, path, encoding, lines, temporary=False, validated=False)
        text._run(lambda: _scan_text(path, check_nul, lines))
        return text
    if configured != "auto" and name in _DUCKDB_READS:
        _scan_text(path, check_nul)
        return prepare_text(path, configured, workdir)
    # Under 'auto' a file whose first MiB is not UTF-8 is CP949 or refused (the UTF-8 check fails at the
    # same byte): its header is read from the file as CP949 meanwhile.
    text = CsvText(path, path, "cp949" if configured == "auto" else configured, LineIndex(), temporary=False)
    reading, writing = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(writing, fcntl.F_SETPIPE_SZ, 1 << 20)  # fewer switches between the two sides
    except (ImportError, AttributeError, OSError):
        pass
    text.reads, text.piped, text._pipe, text.workdir = f"/dev/fd/{reading}", True, reading, workdir
    tee = _Tee(writing)

    def passes() -> None:
        try:
            _scan_text(path, check_nul)
            made = prepare_text(path, configured, workdir, pipe=tee)
        finally:
            tee.close()  # DuckDB sees the end of the text, however the passes ended
        text.path, text.encoding, text.lines = made.path, made.encoding, made.lines
        text.temporary, text.transcoded = made.temporary, made.transcoded

    text._run(passes)
    return text


def read_source(
    path: Path, spec: SourceSpec, workdir: Path | None = None
) -> tuple[str | None, Iterator[Batch] | CsvText]:
    """The encoding used (text formats only) and the batches of one file, read as ``spec`` says; for
    CSV/TSV the file made ready for DuckDB's parser instead (:func:`open_text`, a transcoded copy in
    ``workdir``: the caller closes it; the encoding is final after its ``wait()``).

    :func:`sniff_content` runs first, so a file that is not what the source says is refused with the
    right advice (not "fix the delimiter") before it is decoded.
    """
    if spec.format in ("csv", "tsv", "jsonl") and spec.encoding != "auto":
        try:
            codecs.lookup(spec.encoding)
        except LookupError as exc:
            raise ReadError(
                f"unknown encoding {spec.encoding!r} in mapping.yml; use e.g. utf-8, cp949 or auto"
            ) from exc
    if spec.format in ("csv", "tsv"):
        text = open_text(path, spec.format, spec.encoding, workdir)
        return text.encoding, text
    sniff_content(path, spec.format, spec.encoding)
    if spec.format == "jsonl":
        encoding = detect_encoding(path, spec.encoding)
        return encoding, read_jsonl(path, encoding)
    if spec.format == "excel":
        return None, read_excel(path, spec)
    return None, read_parquet(path)
