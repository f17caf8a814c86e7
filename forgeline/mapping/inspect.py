"""Inspect a new client's files and draft its mapping: the first hour of onboarding, done by the machine.

``sniff(path)`` profiles one delivered file: its encoding, format, delimiter, header row (a title row above
it is allowed, as Korean Excel 생산일보 exports have; no header at all gives generic names col_1..col_n) and
per column the inferred type, null share, distinct values, examples, date format, decimal comma, the unit
written in the header, whether it is code-like (양품/불량, 가동/정지, OK/NG …) and whether it is a running
number.

``propose_mapping(client_id, name, files)`` groups files with the same header into one source (a glob from
their common name), recognises columns with ``column_dictionary.yml`` (common Korean and English MES, POP,
PLC and energy column names) and the profiles, decides which common entities each source feeds, and drafts
a mapping that ``forgeline.clients.parse_client_config`` accepts. Every column gets a decision with a
confidence and a reason, or is listed as unmapped with why; ``Proposal.to_yaml()`` renders the draft with
the doubtful choices as comments above each source. The draft is a start for the data engineer, not a
finished mapping: placeholders (a machine id, a cadence) are marked TODO.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import gzip
import io
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from forgeline.ingest.readers import (
    MisreadEncoding,
    ReadError,
    detect_encoding,
    read_csv,
    read_excel,
    read_jsonl,
    read_parquet,
)
from forgeline.mapping.entities import ENTITIES, taxonomy
from forgeline.mapping.spec import ClientConfig, SourceSpec, tag_name
from forgeline.mapping.units import UnitError, conversion, parse_unit, unit_in_header
from forgeline.settings import check_client_id

__all__ = [
    "ColumnDecision",
    "ColumnDictionary",
    "ColumnProfile",
    "Concept",
    "FileProfile",
    "Proposal",
    "column_dictionary",
    "header_key",
    "mapped_share",
    "propose_mapping",
    "sniff",
]

DICTIONARY_PATH = Path(__file__).with_name("column_dictionary.yml")
LOW_CONFIDENCE = 0.6
PLACEHOLDER_CADENCE = "1 s"
PLACEHOLDER_START = "2000-01-01 00:00:00"
PLACEHOLDER_MACHINE = "M-01"

ColumnType = Literal["int", "float", "bool", "timestamp", "date", "time", "text", "empty"]
FileFormat = Literal["csv", "tsv", "excel", "parquet", "jsonl"]

_SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_DELIMITERS = ",;\t|"
_HEADER_SCAN_ROWS = 40
_SNIFF_BYTES = 1 << 16
_MAX_CODES = 50
_FORMAT_TRIES = 300  # distinct values a date format is tried on

# ---------------------------------------------------------------------------------------------------------
# The column dictionary
# ---------------------------------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN_SPLIT = re.compile(r"[^0-9a-z가-힣]+")
_BRACKETED_PART = re.compile(r"[(\[{（［][^()\[\]{}（）［］]*[)\]}）］]")
_HANGUL = re.compile(r"[가-힣]")


def _tokens(text: str) -> list[str]:
    """Lower-case word tokens of a header: separators, brackets and camelCase boundaries split it."""
    return [t for t in _TOKEN_SPLIT.split(_CAMEL.sub(" ", text).casefold()) if t]


def _header_forms(header: str) -> list[list[str]]:
    """The header's tokens without its unit (bracketed, or the last '_' token(s) as in Usage_kWh), and,
    if different, with it: a unit read from a name ('std_dt', 'ok_ng') must not hide the name."""
    unit = unit_in_header(header)
    without = _BRACKETED_PART.sub(" ", header)
    if unit and without == header:
        parts = [p for p in re.split(r"[\s_\-.]+", header.strip()) if p]
        if len(parts) >= 2:
            drop = 2 if "/" in unit and len(parts) >= 3 else 1
            without = " ".join(parts[:-drop])
    forms = [_tokens(without) or _tokens(header)]
    whole = _tokens(header)
    if whole and whole != forms[0]:
        forms.append(whole)
    return forms


def header_key(header: str) -> str:
    """A header as the dictionary matches it: case, spaces, '_', '-', '.', brackets and unit ignored."""
    return "".join(_header_forms(header)[0])


@dataclass(frozen=True)
class Concept:
    """What a column holds (a machine code, a timestamp, a defect count …) and the fields it feeds."""

    name: str
    types: tuple[str, ...]
    fields: dict[str, str]
    names: frozenset[str]  # header keys (see header_key)
    suffixes: frozenset[tuple[str, ...]]  # token sequences a longer header may end with
    hangul_endings: tuple[str, ...] = ()  # Korean names (3+ syllables) a longer header may end with


@dataclass(frozen=True)
class ConceptMatch:
    concept: str
    score: float
    how: str  # 'name', 'suffix', 'type', 'values', 'unit'


@dataclass(frozen=True)
class ColumnDictionary:
    """The loaded ``column_dictionary.yml``: concepts with their synonyms, and value vocabularies."""

    concepts: dict[str, Concept]
    null_tokens: frozenset[str]
    pass_fail_pairs: tuple[tuple[str, str], ...]
    fail_words: frozenset[str]
    pass_words: frozenset[str]
    binary_pairs: tuple[tuple[str, str], ...]
    calendar_values: frozenset[str]
    core_states: tuple[str, ...]
    codes: dict[str, dict[str, str]]  # taxonomy → casefolded client word → common code

    _cache: dict[tuple[str, str | None], list[ConceptMatch]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def match(self, header: str, column_type: str | None = None) -> list[ConceptMatch]:
        """Concepts whose synonyms name this header, best first (exact names before name endings)."""
        cached = self._cache.get((header, column_type))
        if cached is not None:
            return list(cached)
        forms = [(tuple(tokens), "".join(tokens)) for tokens in _header_forms(header)]
        found: dict[str, ConceptMatch] = {}
        for concept in self.concepts.values():
            if column_type is not None and column_type not in concept.types:
                continue
            if any(key in concept.names for _tokens, key in forms):
                found[concept.name] = ConceptMatch(concept.name, 0.9, "name")
            elif any(_ends_with(tokens, key, concept) for tokens, key in forms):
                found[concept.name] = ConceptMatch(concept.name, 0.65, "suffix")
        result = sorted(found.values(), key=lambda m: -m.score)
        self._cache[(header, column_type)] = result
        return list(result)

    def code_for(self, taxonomy_name: str, value: str) -> str | None:
        """The common code a client's value means (dictionary words, or the taxonomy's codes and names)."""
        folded = value.strip().casefold()
        known = self.codes.get(taxonomy_name, {})
        if folded in known:
            return known[folded]
        compact = re.sub(r"[\s_\-]+", "", folded)
        for word, code in known.items():
            if re.sub(r"[\s_\-]+", "", word) == compact:
                return code
        allowed = taxonomy(taxonomy_name).codes
        for code, name_en in allowed.items():
            if folded in (code.casefold(), name_en.casefold()):
                return code
        return None


def _ends_with(tokens: tuple[str, ...], key: str, concept: Concept) -> bool:
    """The header (as tokens, and joined) ends with one of the concept's names, and is longer."""
    for n in range(1, len(tokens)):
        if tokens[-n:] in concept.suffixes:
            return True
    # Korean headers have no separators: 일생산수량 ends with 생산수량 (three syllables at least).
    return any(key != ending and key.endswith(ending) for ending in concept.hangul_endings)


def _suffix_forms(name: str) -> tuple[str, ...] | None:
    """The token sequence a synonym matches at the end of a longer header, or None if it is too short."""
    tokens = tuple(_tokens(name))
    joined = "".join(tokens)
    if not tokens or (not _HANGUL.search(joined) and len(joined) < 4 and len(tokens) == 1):
        return None
    return tokens


@cache
def column_dictionary(path: Path = DICTIONARY_PATH) -> ColumnDictionary:
    """Load the column dictionary (every scalar read as text: 'no', 'on' and 'NULL' stay words)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # BaseLoader: text only, safe
    concepts: dict[str, Concept] = {}
    for name, entry in data["concepts"].items():
        names = [str(n) for n in entry.get("names", [])]
        fields = dict(entry.get("fields") or {})
        for entity_name, field_name in fields.items():
            entity = ENTITIES.get(entity_name)
            if entity is None or entity.get(field_name) is None:
                raise ValueError(f"{path}: concepts.{name}: {entity_name}.{field_name} is not a field")
        suffixes = frozenset(s for s in (_suffix_forms(n) for n in names) if s)
        endings = tuple(
            sorted({"".join(t) for t in suffixes if _HANGUL.search("".join(t)) and len("".join(t)) >= 3})
        )
        concepts[name] = Concept(
            name=name,
            types=tuple(entry.get("types") or ()),
            fields=fields,
            names=frozenset("".join(_tokens(n)) for n in names),  # synonyms are written without units
            suffixes=suffixes,
            hangul_endings=endings,
        )
    values = data["values"]
    codes: dict[str, dict[str, str]] = {}
    for taxonomy_name, by_code in values["codes"].items():
        allowed = set(taxonomy(taxonomy_name).codes)
        words: dict[str, str] = {}
        for code, spellings in by_code.items():
            if code not in allowed:
                raise ValueError(f"{path}: values.codes.{taxonomy_name}: {code!r} is not a common code")
            for spelling in spellings:
                words.setdefault(str(spelling).casefold(), code)
        codes[taxonomy_name] = words
    return ColumnDictionary(
        concepts=concepts,
        null_tokens=frozenset(str(v).casefold() for v in values["null_tokens"]),
        pass_fail_pairs=tuple((str(a), str(b)) for a, b in values["pass_fail_pairs"]),
        fail_words=frozenset(str(v).casefold() for v in values["fail_words"]),
        pass_words=frozenset(str(v).casefold() for v in values["pass_words"]),
        binary_pairs=tuple((str(a), str(b)) for a, b in values["binary_pairs"]),
        calendar_values=frozenset(str(v).casefold() for v in values["calendar_values"]),
        core_states=tuple(str(v) for v in values["core_states"]),
        codes=codes,
    )


# ---------------------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    """What a sample of one column looks like."""

    name: str
    type: ColumnType = "empty"
    null_share: float = 1.0
    distinct: int = 0
    examples: list[str] = field(default_factory=list)
    format: str | None = None  # strptime format of a timestamp, date or time column
    iso: bool = False  # ISO 8601 dates: the mapping needs no format
    decimal_comma: bool = False  # numbers written 1.234,5
    unit: str | None = None  # the unit the header states (pint spelling), see units.unit_in_header
    code_like: bool = False  # few distinct text values relative to the rows (OK/NG, 가동/정지 …)
    codes: dict[str, int] = field(default_factory=dict)  # value → count, when there are few distinct values
    increasing: bool = False  # integers rising row by row: an order or sequence column
    unique: bool = False  # no value repeats in the sample
    null_values: list[str] = field(default_factory=list)  # words written for 'missing' (None, NULL, -)
    sentinel: str | None = None  # a number standing for 'missing' (-1 where values are otherwise ≥ 0)
    minimum: float | None = None
    maximum: float | None = None
    values: list[str | None] = field(default_factory=list, repr=False, compare=False)  # the sample, cleaned

    @property
    def is_numeric(self) -> bool:
        return self.type in ("int", "float")

    @property
    def is_time(self) -> bool:
        return self.type in ("timestamp", "date", "time")

    @property
    def constant(self) -> bool:
        return self.distinct == 1


@dataclass
class FileProfile:
    """How one delivered file is read, and what its columns hold (from a sample)."""

    path: Path
    format: FileFormat
    encoding: str | None
    delimiter: str | None
    header_row: int  # 1-based row of the column names; 0 = no header (names are col_1..col_n)
    columns: list[ColumnProfile]
    rows_sampled: int
    compressed: bool = False
    sheet: str | None = None
    skip_rows: int = 0
    decimal: Literal[".", ","] = "."
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


def _file_format(path: Path) -> tuple[FileFormat, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if compressed and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    fmt = _SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        if compressed:
            return "csv", True
        raise ValueError(
            f"{path.name}: unknown file type {suffix or '(none)'}; expected one of {sorted(_SUFFIX_FORMATS)}"
        )
    if compressed and fmt in ("excel", "parquet"):
        raise ValueError(f"{path.name}: a compressed {fmt} file cannot be read; deliver it uncompressed")
    return fmt, compressed


def _open_bytes(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")  # type: ignore[return-value]


def _text_sample(path: Path, encoding: str, size: int = _SNIFF_BYTES) -> str:
    with _open_bytes(path) as handle:
        data = handle.read(size)
        more = handle.read(1)
    text = codecs.getincrementaldecoder(encoding)(errors="ignore").decode(data, final=not more)
    if more and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # whole lines only
    return text.lstrip("\ufeff")


def _sniff_delimiter(sample: str, fmt: FileFormat) -> str:
    """The field delimiter: csv.Sniffer on the sample (only , ; tab |), checked by the row widths it gives."""
    lines = [line for line in sample.splitlines() if line.strip()][:60]
    default = "\t" if fmt == "tsv" else ","
    if not lines:
        return default

    def consistency(delimiter: str) -> tuple[float, int]:
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        mode, count = Counter(widths).most_common(1)[0]
        return (count / len(widths) if mode > 1 else 0.0), mode

    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: consistency(d) for d in _DELIMITERS}
    best = max(
        _DELIMITERS,
        key=lambda d: (scores[d][0] > 0.6, scores[d][1] if scores[d][0] > 0.6 else 0, d == default),
    )
    if sniffed in scores and scores[sniffed][0] > 0.6 and scores[sniffed][1] >= scores[best][1]:
        return sniffed
    return best if scores[best][0] > 0 else default


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value).replace("\ufeff", "").strip()


def _raw_rows(
    path: Path, fmt: FileFormat, encoding: str | None, delimiter: str | None, sheet: str | None, limit: int
) -> list[tuple[int, list[str]]]:
    """The first rows of a text or Excel file as cells, with their 1-based line (or row) number."""
    rows: list[tuple[int, list[str]]] = []
    if fmt == "excel":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
            for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
                rows.append((number, [_cell(v) for v in values]))
                if number >= limit:
                    break
        finally:
            workbook.close()
        return rows
    with _open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding or "utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delimiter or ",")
        try:
            for values in reader:
                rows.append((reader.line_num, [v.replace("\ufeff", "").strip() for v in values]))
                if len(rows) >= limit:
                    break
        except csv.Error:
            pass  # a broken line further down: the rows so far are enough to find the header
    return rows


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE_LIKE = re.compile(
    r"^(\d{1,4}[-/.]\s?\d{1,2}[-/.]\s?\d{1,4}|\d{1,2}:\d{2}|\d{8}(\d{4,6})?$|\d{8}\s\d{4,6}$)"
)


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text)) or bool(_DECIMAL_COMMA.match(text)) or bool(_THOUSANDS.match(text))


def _texty(cell: str) -> bool:
    """A cell that reads as a name rather than a value (not a number, not a date)."""
    return bool(cell) and not _is_number(cell) and not _DATE_LIKE.match(cell)


def _find_header(rows: list[tuple[int, list[str]]]) -> tuple[int, int]:
    """(header row number or 0, index in rows where data starts)."""
    filled = [(i, sum(1 for c in cells if c)) for i, (_n, cells) in enumerate(rows)]
    counts = sorted(n for _i, n in filled if n)
    if not counts:
        return 0, 0
    typical = counts[len(counts) // 2]
    wide = max(1, math.ceil(0.5 * typical)) if typical > 1 else 1
    for i, count in filled:
        if count < wide or (typical > 1 and count < 2):
            continue  # a title or blank row
        cells = [c for c in rows[i][1] if c]
        texty = sum(1 for c in cells if _texty(c)) / len(cells)
        distinct = len({c.casefold() for c in cells}) / len(cells)
        if texty < 0.8 or distinct < 0.5:
            return 0, i  # the first wide row holds values: the file has no header
        below = rows[i + 1 :]
        repeated = 0
        for j, cell in enumerate(rows[i][1]):
            if cell and any(j < len(r) and r[j] == cell for _n, r in below):
                repeated += 1
        if below and repeated >= max(1, len(cells) // 2):
            return 0, i  # its values recur in the rows below: data, not names
        return rows[i][0], i + 1
    return 0, 0


def _units_row(cells: list[str], data_rows: list[list[str]]) -> list[str | None] | None:
    """Units written in the row under the header ('℃', '(bar)'), if that row holds only units."""
    units: list[str | None] = []
    found = 0
    for j, cell in enumerate(cells):
        if not cell:
            units.append(None)
            continue
        below = [r[j] for r in data_rows if j < len(r) and r[j]]
        if not below or not all(_is_number(v) for v in below[:50]):
            return None
        try:
            unit = parse_unit(_BRACKETED_PART.sub(lambda m: m.group(0)[1:-1], cell))
        except UnitError:
            return None
        if not unit._units:
            return None
        units.append(cell.strip("()[]{} "))
        found += 1
    return units if found else None


def _unique_names(cells: list[str], width: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for j in range(width):
        name = (cells[j] if j < len(cells) else "") or f"col_{j + 1}"
        base, k = name, 2
        while name.casefold() in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name.casefold())
        names.append(name)
    return names


def sniff(path: Path, sample_rows: int = 2000, *, sheet: str | None = None) -> FileProfile:
    """Profile one delivered file from its first ``sample_rows`` data rows (see the module docstring)."""
    path = Path(path)
    fmt, compressed = _file_format(path)
    warnings: list[str] = []
    encoding = delimiter = None
    header_row, skip_rows = 1, 0
    units: list[str | None] | None = None
    names: list[str] | None = None
    raw: list[tuple[int, list[str]]] = []
    if fmt in ("csv", "tsv", "jsonl"):
        try:
            encoding = detect_encoding(path, "auto")
        except MisreadEncoding as exc:  # Western text that CP949 would misread: propose what it is
            encoding = detect_encoding(path, exc.suggested)
            warnings.append(f"not UTF-8 or Korean: read as {exc.suggested} (`encoding: {exc.suggested}`)")
    if fmt in ("csv", "tsv"):
        delimiter = _sniff_delimiter(_text_sample(path, encoding or "utf-8"), fmt)
        if fmt == "csv" and delimiter == "\t":
            fmt = "tsv"
    if fmt in ("csv", "tsv", "excel"):
        raw = _raw_rows(path, fmt, encoding, delimiter, sheet, _HEADER_SCAN_ROWS)
        header_row, start = _find_header(raw)
        width = max((len(cells) for _n, cells in raw[start:] or raw), default=0)
        while width and not any(len(c) >= width and c[width - 1] for _n, c in raw):
            width -= 1  # trailing empty columns are not columns
        if header_row:
            header_cells = list(raw[start - 1][1])
            while header_cells and not header_cells[-1]:
                header_cells.pop()
            names = _unique_names(header_cells, len(header_cells))
            if start < len(raw):
                units = _units_row(raw[start][1], [c for _n, c in raw[start + 1 :]])
                if units:
                    skip_rows = 1
        else:
            names = [f"col_{j + 1}" for j in range(width)]
            warnings.append("no header row: the columns are named col_1..col_n; rename them in the mapping")
    spec = SourceSpec.model_construct(
        name="inspect",
        files=path.name,
        format=fmt,
        encoding=encoding or "auto",
        delimiter=delimiter,
        header_row=header_row,
        columns=None if header_row else names,
        sheet=sheet,
        skip_rows=skip_rows,
        decimal=".",
        required_columns=[],
        expected_every=None,
        feeds={},
    )
    if fmt in ("csv", "tsv", "excel") and not names:
        raise ValueError(f"{path.name}: the file is empty (no rows to profile)")
    header, rows = _sample(path, spec, encoding, sample_rows, warnings)
    if header is None:  # the readers refused the file: fall back to the raw cells
        header = names or []
        raw = _raw_rows(path, fmt, encoding, delimiter, sheet, sample_rows + header_row + skip_rows + 1)
        first = next((i for i, (n, _c) in enumerate(raw) if n > header_row + skip_rows), len(raw))
        rows = [(cells + [""] * len(header))[: len(header)] for _n, cells in raw[first:]][:sample_rows]
        rows = [[c or None for c in r] for r in rows]
    elif (
        names
        and header_row
        and [h.casefold() for h in header] != [n.casefold() for n in names[: len(header)]]
    ):
        warnings.append("the readers found other header names than the header row scan")
    dictionary = column_dictionary()
    columns = []
    for j, name in enumerate(header):
        profile = _profile_column(name, [r[j] if j < len(r) else None for r in rows], dictionary)
        if units and j < len(units) and units[j]:
            profile.unit = _unit_spelling(units[j])
        columns.append(profile)
    decimal: Literal[".", ","] = "," if any(c.decimal_comma for c in columns) else "."
    for c in columns:
        if c.is_numeric and decimal == "," and not c.decimal_comma and c.type == "float":
            warnings.append(f"{c.name}: decimal points in a file with decimal commas")
    return FileProfile(
        path=path,
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_row,
        columns=columns,
        rows_sampled=len(rows),
        compressed=compressed,
        sheet=sheet,
        skip_rows=skip_rows,
        decimal=decimal,
        warnings=warnings,
    )


def _unit_spelling(text: str) -> str | None:
    try:
        parse_unit(text)
        return text
    except UnitError:
        return None


def _sample(
    path: Path, spec: SourceSpec, encoding: str | None, limit: int, warnings: list[str]
) -> tuple[list[str] | None, list[list[str | None]]]:
    """The header and first rows as the ingest readers read them (the same code as a real load)."""
    batches: Iterator[tuple[list[str], list[list[str | None]]]]
    if spec.format in ("csv", "tsv"):
        batches = read_csv(path, spec, encoding or "utf-8")
    elif spec.format == "jsonl":
        batches = read_jsonl(path, encoding or "utf-8")
    elif spec.format == "excel":
        batches = read_excel(path, spec)
    else:
        batches = read_parquet(path)
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    try:
        for batch_header, batch in batches:
            header = list(batch_header)
            for row in batch:
                rows.append(row[:-1])  # the last element is the row's line number
                if len(rows) >= limit:
                    break
            if len(rows) >= limit:
                break
    except ReadError as exc:
        warnings.append(f"the readers refuse this file as profiled: {exc}")
        if not rows:
            return None, []
    finally:
        close = getattr(batches, "close", None)
        if close:
            close()
    if header is None and spec.format in ("csv", "tsv", "excel") and spec.header_row:
        return None, []
    return header or [], rows


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$")
_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y. %m. %d. %H:%M:%S",
    "%Y. %m. %d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d %H%M%S",
    "%Y%m%d%H%M",
)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y. %m. %d.",
    "%Y. %m. %d",
    "%Y%m%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
)
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f")


def _parse(text: str, fmt: str) -> datetime | None:
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        return None
    return parsed if 1900 <= parsed.year <= 2200 or fmt in _TIME_FORMATS else None


def _best_format(values: list[str], weights: list[int], formats: Iterable[str]) -> tuple[str | None, float]:
    """The format parsing the largest (weighted) share of values, and that share."""
    total = sum(weights)
    best, best_share = None, 0.0
    head = values[:20]
    for fmt in formats:
        if sum(1 for v in head if _parse(v, fmt)) < 0.5 * len(head):
            continue
        share = sum(w for v, w in zip(values, weights, strict=True) if _parse(v, fmt)) / total
        if share > best_share:
            best, best_share = fmt, share
        if share == 1.0:
            break
    return best, best_share


def _date_type(counts: Counter[str]) -> tuple[ColumnType, str, bool] | None:
    """(timestamp|date|time, strptime format, is ISO) when ≥ 95 % of the values parse as one format."""
    distinct = [v for v, _c in counts.most_common(_FORMAT_TRIES)]
    if sum(1 for v in distinct[:50] if _DATE_LIKE.match(v)) < 0.5 * len(distinct[:50]):
        return None
    weights = [counts[v] for v in distinct]
    if sum(w for v, w in zip(distinct, weights, strict=True) if _DATE_LIKE.match(v)) < 0.95 * sum(weights):
        return None
    if all(_INTEGER.match(v) for v in distinct) and not all(len(v) in (8, 12, 14) for v in distinct):
        return None
    candidates: list[tuple[ColumnType, str, float]] = []
    for kind, formats in (
        ("timestamp", _TIMESTAMP_FORMATS),
        ("date", _DATE_FORMATS),
        ("time", _TIME_FORMATS),
    ):
        fmt, share = _best_format(distinct, weights, formats)
        if fmt and share >= 0.95:
            candidates.append((kind, fmt, share))  # type: ignore[arg-type]
    if not candidates:
        # ISO values with and without fractions or offsets mixed: each strptime format reads only some
        iso = sum(w for v, w in zip(distinct, weights, strict=True) if _ISO_DATE.match(v) and _fromiso(v))
        if iso >= 0.95 * sum(weights):
            return "timestamp", "%Y-%m-%d %H:%M:%S", True
        return None
    kind, fmt, _share = max(candidates, key=lambda c: c[2])
    if kind == "timestamp":
        parsed = [_parse(v, fmt) for v in distinct[:_FORMAT_TRIES]]
        if all(p is None or (p.hour, p.minute, p.second, p.microsecond) == (0, 0, 0, 0) for p in parsed):
            kind = "date"  # midnight only: a date written as a timestamp (Excel date cells)
    iso = fmt.startswith("%Y-%m-%d")  # DuckDB casts these itself, with or without fraction and offset
    return kind, fmt, iso


def _fromiso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _profile_column(name: str, raw: list[str | None], dictionary: ColumnDictionary) -> ColumnProfile:
    profile = ColumnProfile(name=name, unit=unit_in_header(name))
    nulls: Counter[str] = Counter()
    cleaned: dict[str | None, str | None] = {None: None}
    raw_counts = Counter(raw)
    for value, count in raw_counts.items():
        text = value.strip() if isinstance(value, str) else None
        if text and text.casefold() in dictionary.null_tokens:
            nulls[text] += count
            text = None
        cleaned[value] = text or None
    values = [cleaned[v] for v in raw]
    profile.values = values
    present = [v for v in values if v is not None]
    profile.null_values = [v for v, _c in nulls.most_common()]
    profile.null_share = 1 - len(present) / len(values) if values else 1.0
    counts = Counter(present)
    profile.distinct = len(counts)
    profile.examples = [v for v, _c in counts.most_common(5)]
    if len(counts) <= _MAX_CODES:
        profile.codes = dict(counts.most_common())
    if not present:
        return profile
    profile.unique = len(counts) == len(present) and len(present) > 1
    folded = {v.casefold() for v in counts}
    dated = _date_type(counts)
    if folded <= {"true", "false"}:
        profile.type = "bool"
    elif dated:
        profile.type, profile.format, profile.iso = dated
    else:
        _numeric_type(profile, counts, present)
    if profile.type == "text" or profile.type == "bool":
        limit = max(2, min(_MAX_CODES, int(0.2 * len(present))))
        profile.code_like = len(counts) <= limit
    elif profile.type == "int" and set(counts) <= {"0", "1"}:
        profile.code_like = True
    return profile


def _numeric_type(profile: ColumnProfile, counts: Counter[str], present: list[str]) -> None:
    total = len(present)
    plain = {v for v in counts if _NUMBER.match(v)}
    numeric = sum(counts[v] for v in plain)
    other = [v for v in counts if v not in plain]
    commas = [v for v in other if _DECIMAL_COMMA.match(v)]
    comma = sum(counts[v] for v in commas)
    thousands = sum(counts[v] for v in other if _THOUSANDS.match(v))
    comma_decimals = {len(v.rsplit(",", 1)[1]) for v in commas}
    decimal_comma = comma > 0 and (comma_decimals != {3} or any("." in v for v in commas))
    if decimal_comma:
        numeric += comma
    else:
        numeric += thousands
    if numeric < 0.95 * total:
        profile.type = "text"
        return
    integers = {v for v in plain if _INTEGER.match(v)}
    leading_zero = any(len(v) > 1 and v[0] == "0" and v[1].isdigit() for v in integers)
    if leading_zero and len(integers) == len(counts):
        profile.type = "text"  # 007, 0123: codes written with digits
        return
    profile.decimal_comma = decimal_comma
    numbers: dict[str, float] = {}
    for value in counts:
        text = value.replace(".", "").replace(",", ".") if decimal_comma else value.replace(",", "")
        try:
            numbers[value] = float(text)
        except ValueError:
            continue
    is_int = not decimal_comma and integers == plain
    profile.type = "int" if is_int else "float"
    finite = [n for n in numbers.values() if math.isfinite(n)]
    if finite:
        profile.minimum, profile.maximum = min(finite), max(finite)
    if is_int and len(present) >= 3 and len(counts) == len(present):
        ordered = [numbers[v] for v in present if v in numbers]
        profile.increasing = all(b > a for a, b in zip(ordered, ordered[1:], strict=False))
    bad = [v for v in other if not _is_number(v)]
    if bad and len(bad) <= 3:
        profile.null_values.extend(bad)  # a few words among numbers: stand-ins for 'missing'
    for sentinel in ("-1", "-99", "-999", "-9999"):
        hits = counts.get(sentinel, 0)
        if hits < max(2, 0.01 * total):
            continue
        rest = [n for n in finite if n != float(sentinel)]
        if rest and min(rest) >= 0:
            profile.sentinel = sentinel
            break


# ---------------------------------------------------------------------------------------------------------
# The proposal
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ColumnDecision:
    """What the proposal does with one column of one source (several rows if it feeds several fields)."""

    source: str
    column: str
    entity: str | None  # None: unmapped
    target: str | None  # a field name, or 'tag:<column>' for a wide column turned into a tag
    confidence: float
    reason: str

    @property
    def mapped(self) -> bool:
        return self.entity is not None

    @property
    def field(self) -> str | None:
        """The core field fed, or None for a tag or an unmapped column."""
        return self.target if self.target and not self.target.startswith("tag:") else None

    @property
    def tag(self) -> str | None:
        """The wide column turned into a tag, or None."""
        return self.target.removeprefix("tag:") if self.target and self.target.startswith("tag:") else None

    def describe(self) -> str:
        if not self.mapped:
            return f"{self.column}: unmapped ({self.reason})"
        return f"{self.column} → {self.entity}.{self.target} ({self.confidence:.2f}: {self.reason})"


@dataclass
class Proposal:
    """A draft mapping (a dict ClientConfig accepts), with a decision for every column of every source."""

    client_id: str
    name: str
    config: dict[str, Any]
    decisions: list[ColumnDecision]
    profiles: dict[str, list[FileProfile]]  # source name → the profiles of its files
    notes: dict[str, list[str]] = field(default_factory=dict)  # source name → remarks for the engineer
    inline_notes: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    skipped: dict[str, str] = field(default_factory=dict)  # file name → why it could not be profiled

    def columns(self, source: str | None = None) -> list[tuple[str, str]]:
        """(source, column) of every delivered column, in file order."""
        return [
            (s, c.name)
            for s, profiles in self.profiles.items()
            if source in (None, s)
            for c in profiles[0].columns
        ]

    def decisions_for(self, source: str, column: str | None = None) -> list[ColumnDecision]:
        return [d for d in self.decisions if d.source == source and column in (None, d.column)]

    def unmapped(self, source: str | None = None) -> list[ColumnDecision]:
        return [d for d in self.decisions if not d.mapped and source in (None, d.source)]

    def validate(self) -> ClientConfig:
        return ClientConfig.model_validate(self.config)

    def to_yaml(self) -> str:
        """The draft as mapping.yml text (UTF-8, Korean kept), doubtful choices as comments above sources."""
        lines = [
            f"# Draft mapping for {self.name} ({self.client_id}), proposed by forgeline.mapping.inspect",
            f"# from {sum(len(p) for p in self.profiles.values())} file(s); "
            f"{mapped_share(self):.0%} of the columns are mapped. Review every line before use:",
            f"# choices with confidence < {LOW_CONFIDENCE} and unmapped columns are listed above each "
            "source.",
        ]
        lines.extend(f"# skipped {name}: {why}" for name, why in self.skipped.items())
        top = {k: v for k, v in self.config.items() if k != "sources"}
        lines.append(_dump(top).rstrip())
        lines.append("sources:")
        for source in self.config.get("sources", []):
            name = source["name"]
            lines.extend(f"  # {line}" for line in self._source_comments(name))
            text = _dump([_flowed_source(source)]).rstrip()
            source_lines = [f"  {line}" for line in text.splitlines()]
            for needle, comment in dict.fromkeys(self.inline_notes.get(name, [])):
                for i, line in enumerate(source_lines):
                    if needle in line and " # " not in line:
                        source_lines[i] = f"{line}  # {comment}"
            lines.extend(source_lines)
        return "\n".join(lines) + "\n"

    def _source_comments(self, source: str) -> list[str]:
        profiles = self.profiles[source]
        first = profiles[0]
        names = ", ".join(p.path.name for p in profiles[:3]) + (" …" if len(profiles) > 3 else "")
        read = [first.format]
        if first.encoding:
            read.append(first.encoding)
        if first.header_row != 1:
            read.append(f"header row {first.header_row}")
        out = [
            f"{source}: {len(profiles)} file(s) ({names}), {', '.join(read)}, "
            f"{first.rows_sampled} rows sampled"
        ]
        low = [d for d in self.decisions_for(source) if d.mapped and d.confidence < LOW_CONFIDENCE]
        if low:
            out.append(
                "low confidence (check): " + ", ".join(f"{d.column} → {d.entity}.{d.target}" for d in low)
            )
            out.extend(f"  - {d.describe()}" for d in low)
        unmapped = self.unmapped(source)
        if unmapped:
            out.append("unmapped: " + ", ".join(d.column for d in unmapped))
            out.extend(f"  - {d.column}: {d.reason}" for d in unmapped)
        out.extend(f"note: {n}" for n in self.notes.get(source, []))
        warned = dict.fromkeys(f"warning: {p.path.name}: {w}" for p in profiles for w in p.warnings)
        out.extend(list(warned)[:10])
        return out


def mapped_share(proposal: Proposal) -> float:
    """Share of the delivered columns (over all sources) that the draft maps to a field or tag."""
    columns = proposal.columns()
    if not columns:
        return 0.0
    mapped = {(d.source, d.column) for d in proposal.decisions if d.mapped}
    return sum(1 for c in columns if c in mapped) / len(columns)


# -- YAML rendering ---------------------------------------------------------------------------------------


class _Flow(dict):
    """A mapping rendered on one line: {column: x, unit: s}."""


class _FlowList(list):
    """A list rendered on one line: [a, b]."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def _dump(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=False
    )


def _flowed_source(source: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in source.items():
        if key in ("required_columns", "columns"):
            out[key] = _FlowList(value)
        elif key == "feeds":
            out[key] = {
                entity: {
                    part: (
                        {k: _short(v) if part == "fields" else _flow(v) for k, v in content.items()}
                        if part in ("fields", "tags")
                        else _FlowList(content)
                        if isinstance(content, list)
                        else content
                    )
                    for part, content in feed.items()
                }
                for entity, feed in value.items()
            }
        else:
            out[key] = value
    return out


def _short(spec: dict[str, Any]) -> Any:
    """A field spec as written by hand: a bare column name when it is only that."""
    return spec["column"] if list(spec) == ["column"] else _flow(spec)


def _flow(value: Any) -> Any:
    if isinstance(value, dict):
        return _Flow({k: _flow(v) for k, v in value.items()})
    if isinstance(value, list):
        return _FlowList(value)
    return value


# -- grouping files into sources ----------------------------------------------------------------------------

_DATE_RUN = re.compile(r"(?<![0-9A-Za-z])(19|20)\d{2}([-_.]?\d{1,2}){0,2}([-_.]?[Qq]\d)?(?![0-9A-Za-z])")
_TRAILING_NUMBER = re.compile(r"(?<=[_\-\s.])\d+$")


def _common_glob(names: list[str]) -> str:
    generalized = {_generalized_name(n) for n in names}
    if len(generalized) == 1:
        return generalized.pop()  # shots_2020-10.csv, shots_2020-11.csv → shots_*.csv
    prefix = _common_prefix(names)
    rest = [n[len(prefix) :] for n in names]
    suffix = _common_prefix([r[::-1] for r in rest])[::-1]
    prefix = prefix.rstrip("0123456789")
    suffix = suffix.lstrip("0123456789")
    return f"{prefix}*{suffix}"


def _generalized_name(name: str) -> str:
    """A file name with its date or trailing number as '*': the name of the next delivery too."""
    stem, dot, ext = name.partition(".")
    stem = _DATE_RUN.sub("*", stem)
    stem = _TRAILING_NUMBER.sub("*", stem)
    return stem + dot + ext


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]


def _source_name(pattern: str, entities: list[str], taken: set[str]) -> str:
    _STEMS = {
        "cycles": "cycles",
        "production_counts": "production",
        "downtime_events": "downtime",
        "energy_readings": "energy",
        "sensor_readings": "sensors",
        "machine_states": "machine_states",
        "maintenance_events": "maintenance",
        "quality_results": "quality",
        "work_orders": "work_orders",
    }
    stem = pattern.split(".")[0]
    base = "_".join(_TOKEN_SPLIT.sub(" ", re.sub(r"[^0-9A-Za-z]+", " ", stem).casefold()).split())
    base = re.sub(r"[^a-z0-9_]", "", base).strip("_")
    if not base or not base[0].isalpha():
        base = _STEMS.get(entities[0], entities[0]) if entities else "source"
    base = base[:36]
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _group_profiles(profiles: list[FileProfile]) -> list[list[FileProfile]]:
    groups: dict[tuple, list[FileProfile]] = {}
    for profile in profiles:
        key = (
            profile.format,
            profile.delimiter,
            profile.header_row,
            profile.skip_rows,
            profile.sheet,
            tuple(sorted(n.casefold() for n in profile.names)),
        )
        groups.setdefault(key, []).append(profile)
    return list(groups.values())


def _sheets(path: Path) -> list[str | None]:
    """The sheets of a workbook holding data (None for other formats)."""
    if _file_format(path)[0] != "excel":
        return [None]
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = []
        for worksheet in workbook.worksheets:
            rows = 0
            for values in worksheet.iter_rows(values_only=True, max_row=5):
                rows += any(v not in (None, "") for v in values)
            if rows >= 2:
                sheets.append(worksheet.title)
        if not sheets or sheets == [workbook.worksheets[0].title]:
            return [None]  # the first sheet, as the readers read by default
        return sheets
    finally:
        workbook.close()


def propose_mapping(client_id: str, name: str, files: list[Path], sample_rows: int = 2000) -> Proposal:
    """Sniff the files, group them into sources and draft the client's mapping (see the module docstring)."""
    check_client_id(client_id)
    dictionary = column_dictionary()
    paths = sorted({Path(f) for f in files}, key=lambda p: p.name)
    if not paths:
        raise ValueError("propose_mapping needs at least one file")
    profiles: list[FileProfile] = []
    skipped: dict[str, str] = {}
    for path in paths:
        try:
            profiles.extend(sniff(path, sample_rows, sheet=s) for s in _sheets(path))
        except (ValueError, OSError) as exc:  # ReadError is a ValueError
            skipped[path.name] = str(exc)
    for profile in profiles:
        if not profile.columns:
            skipped[profile.path.name] = "no columns found"
    profiles = [p for p in profiles if p.columns]
    if not profiles:
        raise ValueError(f"none of the files could be profiled: {skipped}")
    groups = _group_profiles(profiles)
    all_names = [p.name for p in paths]
    taken: set[str] = set()
    sources: list[dict[str, Any]] = []
    decisions: list[ColumnDecision] = []
    by_source: dict[str, list[FileProfile]] = {}
    notes: dict[str, list[str]] = {}
    inline: dict[str, list[tuple[str, str]]] = {}
    for group in groups:
        names = sorted({p.path.name for p in group})
        pattern = _common_glob(names)
        others = [n for n in all_names if n not in names]
        clash = [n for n in others if fnmatch.fnmatch(n, pattern)]
        if clash:
            if len(names) == 1:
                pattern = names[0]
            else:
                # Files of other sources match the common pattern: the data engineer must narrow it.
                pass
        draft = _SourceDraft(group, dictionary)
        draft.build()
        if clash and len(names) > 1:
            draft.notes.append(f"TODO: the pattern {pattern!r} also matches {clash[:3]}: narrow it")
        source_name = _source_name(pattern, list(draft.feeds), taken)
        source = draft.render(source_name, pattern)
        sources.append(source)
        for d in draft.decisions:
            d.source = source_name
        decisions.extend(draft.decisions)
        by_source[source_name] = group
        notes[source_name] = draft.notes
        inline[source_name] = draft.inline
    config: dict[str, Any] = {"id": client_id, "name": name, "models": [], "sources": sources}
    proposal = Proposal(client_id, name, config, decisions, by_source, notes, inline, skipped)
    proposal.validate()
    return proposal


# -- one source ---------------------------------------------------------------------------------------------

_ID_CONCEPTS = ("machine", "product", "work_order", "lot", "cycle_id", "meter", "tool")
# Numeric columns that are ids, labels, times or calendar values are not tags ...
_NOT_TAGS = frozenset(
    {
        "identifier",
        "sequence",
        "calendar",
        "pass_label",
        "shift",
        "date",
        "timestamp",
        "time_of_day",
        *_ID_CONCEPTS,
    }
)
# ... unless their name also says they are a quantity (cycle time, energy, a count)
_TAGGABLE = frozenset({"cycle_time", "energy", "reactive_energy", "duration", "total_count"})
_RESOLUTION_WORDS = {60.0: "minute", 3600.0: "hour"}


@dataclass
class _Time:
    spec: dict[str, Any]
    columns: list[str]
    confidence: float
    reason: str
    kind: Literal["timestamp", "date", "order"]
    parsed: list[datetime | None] = field(default_factory=list, repr=False)


class _SourceDraft:
    """Decides what one source (files with one header) feeds, column by column."""

    def __init__(self, profiles: list[FileProfile], dictionary: ColumnDictionary) -> None:
        self.profiles = profiles
        self.profile = profiles[0]
        self.dictionary = dictionary
        self.columns = {c.name: c for c in self.profile.columns}
        self.feeds: dict[str, dict[str, Any]] = {}
        self.decisions: list[ColumnDecision] = []
        self.notes: list[str] = []
        self.inline: list[tuple[str, str]] = []
        self.roles: dict[str, str] = {}  # column → the concept it serves
        self.matches = {c.name: self._matches(c) for c in self.profile.columns}
        self.time: _Time | None = None
        self.per_file_label = False

    # -- recognising columns --------------------------------------------------------------------------

    def _matches(self, column: ColumnProfile) -> list[ConceptMatch]:
        found = {m.concept: m for m in self.dictionary.match(column.name, column.type)}
        values = {v.casefold() for v in column.codes}
        if column.code_like and values and column.type in ("text", "bool"):
            if values <= self.dictionary.calendar_values:
                found["calendar"] = ConceptMatch("calendar", 0.8, "values")
            if (
                self._pass_map(column)[0]
                and "pass_label" not in found
                and not values <= {"y", "n", "yes", "no"}
            ):
                found["pass_label"] = ConceptMatch("pass_label", 0.6, "values")
            known = [v for v in values if self.dictionary.code_for("machine_states", v)]
            if "state" not in found and len(known) >= max(1, 0.8 * len(values)) and len(values) <= 8:
                found["state"] = ConceptMatch("state", 0.6, "values")
        if column.is_numeric and column.unit:
            kind = conversion(column.unit).quantity_kind
            if kind == "energy":
                concept = "reactive_energy" if "var" in column.unit.casefold() else "energy"
                found[concept] = ConceptMatch(
                    concept, max(found.get(concept, ConceptMatch("", 0, "")).score, 0.85), "unit"
                )
                found.pop("energy" if concept == "reactive_energy" else "reactive_energy", None)
            for name in list(found):
                kinds = {ENTITIES[e].get(f).kind for e, f in self.dictionary.concepts[name].fields.items()}
                kinds.discard(None)
                if kinds and kind not in kinds:
                    del found[name]  # 'water_usage [m3]' is no energy
        if column.type == "timestamp" and not {
            "timestamp",
            "start_time",
            "end_time",
            "reported_time",
            "due_time",
        } & set(found):
            found["timestamp"] = ConceptMatch("timestamp", 0.7, "type")
        if column.type == "date" and "date" not in found and "due_time" not in found:
            found["date"] = ConceptMatch("date", 0.7, "type")
        if column.type == "time" and "time_of_day" not in found:
            found["time_of_day"] = ConceptMatch("time_of_day", 0.7, "type")
        return sorted(found.values(), key=lambda m: -m.score)

    def match(self, column: str, concept: str) -> ConceptMatch | None:
        return next((m for m in self.matches[column] if m.concept == concept), None)

    def candidates(self, concept: str) -> list[tuple[ColumnProfile, ConceptMatch]]:
        """Columns that may hold a concept, best first; a column serving another concept is skipped."""
        out = []
        for column in self.profile.columns:
            m = self.match(column.name, concept)
            if m is None or self.roles.get(column.name, concept) != concept:
                continue
            if m.score < self.matches[column.name][0].score:
                continue  # the column is better read as something else (WeekStatus: calendar, not state)
            if concept in _ID_CONCEPTS and column.type not in ("text", "int"):
                continue
            if (
                concept in _ID_CONCEPTS
                and column.type == "int"
                and column.code_like
                and column.distinct <= 2
                and m.how != "name"
            ):
                continue
            out.append((column, m))
        # exact names first; among equals the column whose name is the concept's main word wins
        return sorted(out, key=lambda cm: -cm[1].score)

    def best(self, concept: str) -> tuple[ColumnProfile, ConceptMatch] | None:
        found = self.candidates(concept)
        return found[0] if found else None

    def claim(self, column: str, concept: str) -> None:
        self.roles[column] = concept

    def decide(
        self, column: str, entity: str | None, target: str | None, confidence: float, reason: str
    ) -> None:
        for d in self.decisions:
            if d.column == column and d.entity == entity and d.target == target:
                return
        self.decisions.append(ColumnDecision("", column, entity, target, round(confidence, 2), reason))

    @staticmethod
    def _how(m: ConceptMatch, concept: str) -> str:
        words = {
            "name": f"a common name for {concept}",
            "suffix": f"its name ends like a name for {concept}",
            "type": f"its values are typed as {concept.replace('_', ' ')}",
            "values": f"its values look like {concept.replace('_', ' ')}",
            "unit": f"the unit in its header is one of {concept.replace('_', ' ')}",
        }
        return words[m.how]

    # -- time -----------------------------------------------------------------------------------------

    def _parsed_times(self, column: ColumnProfile) -> list[datetime | None]:
        out: list[datetime | None] = []
        for value in column.values:
            if value is None:
                out.append(None)
            else:
                parsed = _parse(value, column.format) if column.format else None
                parsed = parsed or (_fromiso(value) if column.iso or not column.format else None)
                out.append(parsed.replace(tzinfo=None) if parsed else None)  # local clock time: comparable
        return out

    def _resolve_time(self) -> _Time | None:
        stamps = [(c, m) for c, m in self.candidates("timestamp")]
        starts = self.candidates("start_time")
        dates = self.candidates("date")
        times = self.candidates("time_of_day")
        sequence = self._sequence_column()
        main: tuple[ColumnProfile, ConceptMatch] | None = None
        if stamps:
            main = stamps[0]
        elif starts:
            main = starts[0]
        if main is None and dates and times and dates[0][0].type == "date":
            joined = self._date_and_time(dates[0][0], times[0][0])
            if joined is not None:
                return joined
        if main is not None:
            column, m = main
            spec = {"column": column.name}
            if not column.iso and column.format:
                spec["format"] = column.format
            parsed = self._parsed_times(column)
            if sequence is not None and self._coarse(parsed):
                return self._order_from_coarse(column, parsed, sequence)
            confidence = m.score if column.type == "timestamp" else 0.5
            fmt = f" in format {spec['format']!r}" if "format" in spec else " (ISO 8601)"
            return _Time(
                spec, [column.name], confidence, self._how(m, "a timestamp") + fmt, "timestamp", parsed
            )
        if dates:
            column, m = dates[0]
            spec = {"column": column.name}
            if not column.iso and column.format:
                spec["format"] = column.format
            return _Time(
                spec, [column.name], m.score, self._how(m, "a date"), "date", self._parsed_times(column)
            )
        order = sequence.name if sequence is not None else "row"
        spec = {"from_order": {"order": order, "cadence": PLACEHOLDER_CADENCE, "start": PLACEHOLDER_START}}
        why = (
            f"TODO: no time in the data: time = start + position × cadence with the placeholders cadence "
            f"{PLACEHOLDER_CADENCE!r} and start {PLACEHOLDER_START!r}, which the data engineer must confirm"
        )
        self.inline.append(("cadence:", "TODO: confirm the cadence and start with the client (placeholders)"))
        self.notes.append(
            why.replace("TODO: ", "TODO ") + (f"; rows are ordered by {order}" if sequence else "")
        )
        return _Time(spec, [sequence.name] if sequence else [], 0.3, why, "order")

    def _date_and_time(self, d: ColumnProfile, t: ColumnProfile) -> _Time | None:
        """A date column and a time-of-day column joined into one timestamp expression."""
        date_format = (d.format or "%Y-%m-%d").split(" ")[0]
        date_sql = _ident(d.name)
        if " " in (d.format or ""):  # a date written with a midnight time (Excel date cells): its date part
            lengths = {len(v.split(" ")[0]) for v in d.values if v}
            if len(lengths) != 1:
                return None
            date_sql = f"left({date_sql}, {lengths.pop()})"
        spec: dict[str, Any] = {"expr": f"{date_sql} || ' ' || {_ident(t.name)}"}
        time_format = t.format or "%H:%M:%S"
        if not (d.iso and time_format == "%H:%M:%S"):
            spec["format"] = f"{date_format} {time_format}"
        parsed = []
        for a, b in zip(d.values, t.values, strict=True):
            text = f"{a.split(' ')[0]} {b}" if a and b else None
            parsed.append(_parse(text, f"{date_format} {time_format}") if text else None)
        why = "the date and time-of-day columns, joined"
        return _Time(spec, [d.name, t.name], 0.8, why, "timestamp", parsed)

    def _coarse(self, parsed: list[datetime | None]) -> bool:
        """Several rows per time value that no machine column explains: the time is coarser than the rows."""
        present = [p for p in parsed if p is not None]
        if not present or len(set(present)) >= 0.5 * len(present):
            return False
        machine = self.best("machine")
        if machine is None:
            return True
        keys = [(p, m) for p, m in zip(parsed, machine[0].values, strict=False) if p is not None]
        return len(set(keys)) < 0.5 * len(keys)

    def _sequence_column(self) -> ColumnProfile | None:
        """A running number: an increasing, unique integer column (preferably named like one)."""
        found = [c for c in self.profile.columns if c.type == "int" and c.increasing and c.unique]
        found.sort(
            key=lambda c: (self.match(c.name, "sequence") is None, self.match(c.name, "cycle_id") is not None)
        )
        return found[0] if found else None

    def _order_from_coarse(
        self, column: ColumnProfile, parsed: list[datetime | None], sequence: ColumnProfile
    ) -> _Time:
        """Minute (or coarser) times with several rows each, and a running number: time rows by the number."""
        present = [p for p in parsed if p is not None]
        if all(p.second == 0 and p.microsecond == 0 for p in present):
            resolution = 3600.0 if all(p.minute == 0 for p in present) else 60.0
        else:
            resolution = 1.0
        runs = Counter(present)
        per_step = statistics.median(runs.values())
        cadence_s = resolution / per_step
        numbers = [int(v) for v in sequence.values if v is not None]
        first_time = next(p for p in parsed if p is not None)
        first_number = next(
            (int(v) for v, p in zip(sequence.values, parsed, strict=True) if v and p), numbers[0]
        )
        start = first_time - timedelta(seconds=first_number * cadence_s)
        cadence = f"{cadence_s:g} s"
        spec = {
            "from_order": {
                "order": sequence.name,
                "cadence": cadence,
                "start": start.strftime("%Y-%m-%d %H:%M:%S"),
            }
        }
        reason = (
            f"{column.name} has only {_RESOLUTION_WORDS.get(resolution, 'second')} resolution "
            f"({per_step:g} rows per value): time = start + {sequence.name} × cadence, with the start "
            f"and the cadence {cadence} inferred from {column.name}; confirm the cadence with the client"
        )
        self.inline.append(
            ("cadence:", f"inferred from {column.name}: {per_step:g} rows per {resolution:g} s; confirm")
        )
        self.notes.append(
            f"{column.name} is coarser than the rows: the times come from {sequence.name} ({reason})"
        )
        self.decide(
            column.name,
            None,
            None,
            0,
            f"too coarse to time the rows; used to infer the start and cadence of {sequence.name}",
        )
        return _Time(spec, [sequence.name], 0.6, reason, "order")

    def _interval_seconds(self) -> float | None:
        if self.time is None or not self.time.parsed:
            return None
        present = sorted({p for p in self.time.parsed if p is not None})
        diffs = [(b - a).total_seconds() for a, b in zip(present, present[1:], strict=False)]
        diffs = [d for d in diffs if d > 0]
        return statistics.median(diffs) if diffs else None

    def time_field(self, entity: str, field_name: str, extra_reason: str = "") -> None:
        assert self.time is not None
        self.feeds[entity]["fields"][field_name] = dict(self.time.spec)
        for name in self.time.columns:
            self.claim(name, "timestamp")
            self.decide(name, entity, field_name, self.time.confidence, self.time.reason + extra_reason)

    # -- building -------------------------------------------------------------------------------------

    def build(self) -> None:
        self.time = self._resolve_time()
        self._check_label_per_file()
        label = self.best("pass_label")
        label_ok = label is not None and self._pass_map(label[0])[0] is not None
        energy = self.best("energy")
        counts = [c for c in ("total_count", "good_count") if self.best(c)]
        duration = self.best("duration")
        reason = self.best("downtime_reason") if duration or self.best("end_time") else None
        state = self.best("state")
        maintenance = any(self.best(c) for c in ("maintenance_type", "failure_mode")) and (
            self.best("work_order") or self.best("reported_time") or self.best("start_time")
        )
        cycle_evidence = self.best("cycle_id") or self.best("cycle_time")
        has_timestamp = self.time is not None and self.time.kind in ("timestamp", "order")
        entities: list[str] = []
        if energy:
            entities.append("energy_readings")
        if maintenance:
            entities.append("maintenance_events")
        if reason and not maintenance:
            entities.append("downtime_events")
        process = len(self._numeric_columns()) >= 3
        if cycle_evidence and (label_ok or process) and not energy and not reason:
            entities.append("cycles")
            if label_ok:
                entities.append("quality_results")
        elif counts and self.time and not entities:
            entities.append("production_counts")
            if self.best("reject_count") or self.best("defect"):
                entities.append("quality_results")
        if label_ok and "quality_results" not in entities and not entities:
            entities.append("quality_results")
        if state and self.time and self.time.kind != "date" and "downtime_events" not in entities:
            entities.append("machine_states")
        wants_sensors = not {"cycles", "maintenance_events", "downtime_events"} & set(entities)
        if wants_sensors and has_timestamp and self._numeric_columns(exclude_counts=bool(counts)):
            entities.append("sensor_readings")
        if not entities:
            entities.append("sensor_readings")
        for entity in _ORDER:
            if entity in entities:
                self.feeds[entity] = {"fields": {}}
                getattr(self, f"_feed_{entity}")()
        self._finish()

    def _numeric_columns(self, exclude_counts: bool = False) -> list[ColumnProfile]:
        """Numeric columns free to become tags (measurements, not ids, times, labels or derived values)."""
        out = []
        for column in self.profile.columns:
            if not column.is_numeric or column.name in self.roles or column.null_share >= 1:
                continue
            concepts = {m.concept for m in self.matches[column.name]}
            if concepts & _NOT_TAGS and not concepts & _TAGGABLE:
                continue
            if exclude_counts and concepts & {"total_count", "good_count", "reject_count"}:
                continue
            if self._derived_from_time(column):
                continue
            out.append(column)
        return out

    def _derived_from_time(self, column: ColumnProfile) -> bool:
        """Seconds or minutes since midnight of the row's time: computed from it, nothing new."""
        if self.time is None or not self.time.parsed or column.type != "int":
            return False
        pairs = [
            (int(v), p) for v, p in zip(column.values, self.time.parsed, strict=False) if v is not None and p
        ]
        if len(pairs) < 10:
            return False
        for scale in (1, 60):
            hits = sum(1 for v, p in pairs if v == (p.hour * 3600 + p.minute * 60 + p.second) // scale)
            if hits >= 0.95 * len(pairs):
                return True
        return False

    def _check_label_per_file(self) -> None:
        """A label constant within each file but varying across files labels the run, not the row."""
        label = self.best("pass_label")
        if label is None or len(self.profiles) < 2:
            return
        name = label[0].name
        per_file = [
            {v for v in p.column(name).values if v is not None} for p in self.profiles if name in p.names
        ]
        if all(len(v) == 1 for v in per_file) and len(set().union(*per_file)) > 1:
            self.per_file_label = True

    # -- fields ---------------------------------------------------------------------------------------

    def field_from(
        self,
        entity: str,
        field_name: str,
        concept: str,
        *,
        spec: dict[str, Any] | None = None,
    ) -> ColumnProfile | None:
        found = self.best(concept)
        if found is None:
            return None
        column, m = found
        others = [c.name for c, cm in self.candidates(concept)[1:] if cm.score >= m.score]
        confidence = m.score if not others else min(m.score, 0.5)
        reason = self._how(m, concept.replace("_", " "))
        if others:
            reason += f"; also possible: {', '.join(others)}"
        value = dict(spec) if spec else {"column": column.name}
        value.setdefault("column", column.name)
        if column.null_values and "null_values" not in value:
            value["null_values"] = list(column.null_values)
        self.feeds[entity]["fields"][field_name] = value
        self.claim(column.name, concept)
        self.decide(column.name, entity, field_name, confidence, reason)
        return column

    def _machine(self, entity: str) -> None:
        """The machine column, or (none in the files) a placeholder for the one machine."""
        if self.field_from(entity, "machine_id", "machine"):
            return
        self.feeds[entity]["fields"]["machine_id"] = {"value": PLACEHOLDER_MACHINE}
        note = (
            f"machine_id: {PLACEHOLDER_MACHINE} is a placeholder for the one machine: "
            "the files have no machine column"
        )
        if note not in self.notes:
            self.notes.append(note)
        self.inline.append((f"value: {PLACEHOLDER_MACHINE}", "TODO: no machine column; one machine assumed"))

    def _measure(self, entity: str, field_name: str, concept: str, default_unit: str | None = None) -> None:
        found = self.best(concept)
        if found is None:
            return
        column, _m = found
        target = ENTITIES[entity].get(field_name)
        assert target is not None
        spec: dict[str, Any] = {"column": column.name}
        unit = column.unit or _bracket_unit(column.name, target.kind)
        assumed = False
        if unit is None and default_unit:
            unit, assumed = default_unit, True
        if unit:
            try:
                conversion(unit, expected_kind=target.kind)
                spec["unit"] = unit
            except UnitError:
                unit = None
        self.field_from(entity, field_name, concept, spec=spec)
        if assumed:
            self._lower(
                column.name, entity, field_name, 0.55, f"no unit in the header: {default_unit} assumed"
            )
        elif unit is None and target.kind:
            self._lower(
                column.name,
                entity,
                field_name,
                0.55,
                f"no unit in the header: values read as {target.kind} in its canonical unit",
            )

    def _lower(self, column: str, entity: str, target: str, confidence: float, why: str) -> None:
        for d in self.decisions:
            if (d.column, d.entity, d.target) == (column, entity, target):
                d.confidence = min(d.confidence, confidence)
                d.reason += f"; {why}"

    def _coded(
        self, entity: str, field_name: str, column: ColumnProfile, taxonomy_name: str, text_field: str | None
    ) -> None:
        """A code field with a value map from the dictionary, and the raw text beside it."""
        values = [v for v in column.codes if v is not None]
        mapping = {v: self.dictionary.code_for(taxonomy_name, v) for v in values}
        known = {v: c for v, c in mapping.items() if c}
        unknown = [v for v, c in mapping.items() if not c]
        if taxonomy_name == "machine_states" and known:
            known.update(self._same_style_states(values, known))
        spec: dict[str, Any] = {"column": column.name}
        if column.null_values:
            spec["null_values"] = list(column.null_values)
        m = self.match(column.name, self.roles.get(column.name, "")) or ConceptMatch("", 0.6, "values")
        if known and column.code_like:
            spec["map"] = known
            confidence = m.score if not unknown else min(m.score, 0.55)
            why = f"values mapped to the common {taxonomy_name} codes"
            if unknown:
                why += f"; not in the dictionary, left out of the map: {unknown[:8]}"
                self.notes.append(
                    f"{column.name}: add {unknown[:8]} to the {field_name} map (common codes: "
                    f"{sorted(taxonomy(taxonomy_name).codes)})"
                )
            self.feeds[entity]["fields"][field_name] = spec
            self.decide(column.name, entity, field_name, confidence, why)
        else:
            self.notes.append(
                f"{column.name}: its values {values[:8]} are not in the dictionary: write a {field_name} map"
            )
        if text_field:
            text_spec: dict[str, Any] = {"column": column.name}
            if column.null_values:
                text_spec["null_values"] = list(column.null_values)
            self.feeds[entity]["fields"][text_field] = text_spec
            self.decide(column.name, entity, text_field, 0.85, "the client's own text, kept beside the code")

    def _same_style_states(self, seen: list[str], known: dict[str, str]) -> dict[str, str]:
        """The dictionary's core state words spelled like the seen ones (가동 seen → 정지 too): a sample
        often misses rare states."""
        if not seen:
            return {}
        hangul = all(_HANGUL.search(v) for v in seen)
        out: dict[str, str] = {}
        for word in self.dictionary.core_states:
            code = self.dictionary.codes["machine_states"].get(word.casefold())
            if code is None or bool(_HANGUL.search(word)) != hangul:
                continue
            spelled = _spelled_like(word, seen[0])
            if spelled.casefold() not in {v.casefold() for v in seen} and spelled not in known:
                out[spelled] = code
        return out

    def _pass_map(self, column: ColumnProfile) -> tuple[dict[str, bool] | None, float, str]:
        """A value map for is_pass from a label's values, its confidence and why."""
        values = [v for v in column.codes if v is not None]
        if not values or len(values) > 4:
            return None, 0.0, ""
        folded = {v.casefold(): v for v in values}
        for good, bad in self.dictionary.pass_fail_pairs:
            g, b = good.casefold(), bad.casefold()
            if set(folded) <= {g, b}:
                mapping: dict[str, bool] = {}
                sample = values[0]
                for word, flag in ((good, True), (bad, False)):
                    spelled = folded.get(word.casefold()) or _spelled_like(word, sample)
                    mapping[spelled] = flag
                return mapping, 0.9, f"{good} = pass, {bad} = fail"
        if set(folded) <= {"0", "1", "true", "false"}:
            key = header_key(column.name)
            fail = any(w in key for w in self.dictionary.fail_words)
            good = any(w in key for w in self.dictionary.pass_words)
            one, zero = ("1", "0") if set(folded) <= {"0", "1"} else ("true", "false")
            one, zero = folded.get(one, one), folded.get(zero, zero)
            if fail and not good:
                return {zero: True, one: False}, 0.8, f"its name says 1 = defect: {one} = fail"
            if good and not fail:
                return {one: True, zero: False}, 0.8, f"its name says 1 = pass: {one} = pass"
            counts = {v: column.codes.get(v, 0) for v in (zero, one)}
            majority = max(counts, key=lambda v: counts[v])
            minority = zero if majority == one else one
            share = counts[minority] / max(1, sum(counts.values()))
            confidence = 0.75 if 0 < share < 0.3 else 0.45
            return (
                {majority: True, minority: False},
                confidence,
                f"the majority value {majority} ({1 - share:.0%} of the sample) is taken as pass, "
                f"{minority} as fail",
            )
        return None, 0.0, ""

    # -- entities -------------------------------------------------------------------------------------

    def _feed_energy_readings(self) -> None:
        entity = "energy_readings"
        self.field_from(entity, "meter_id", "meter")
        if self.time is not None and self.time.kind != "date":
            step = self._interval_seconds()
            end = False
            why = ""
            if step and self.time.parsed:
                first = next((p for p in self.time.parsed if p is not None), None)
                if first and first.hour * 3600 + first.minute * 60 + first.second == step:
                    end = True
                    why = (
                        "; the first time is one interval after midnight: the times mark the END of "
                        f"{step / 60:g}-minute intervals"
                    )
            self.time_field(entity, "interval_end" if end else "interval_start", why)
            if end:
                self._lower(
                    self.time.columns[0], entity, "interval_end", 0.55, "start or end: check with the client"
                )
            if step:
                minutes = step / 60
                value = (
                    {"value": minutes, "unit": "min"}
                    if minutes == int(minutes)
                    else {"value": step, "unit": "s"}
                )
                if isinstance(value["value"], float) and value["value"].is_integer():
                    value["value"] = int(value["value"])
                self.feeds[entity]["fields"]["interval_s"] = value
                self.notes.append(
                    f"interval_s: {value['value']} {value['unit']} is the median step between rows"
                )
        self._measure(entity, "energy_kwh", "energy", default_unit="kWh")
        reactive = self.candidates("reactive_energy")
        if len(reactive) == 1:
            self._measure(entity, "reactive_kvarh", "reactive_energy", default_unit="kvarh")
        elif len(reactive) > 1:
            columns = [c for c, _m in reactive]
            units = {c.unit for c in columns}
            spec: dict[str, Any] = {"expr": " + ".join(_ident(c.name) for c in columns)}
            if len(units) == 1 and None not in units:
                spec["unit"] = units.pop()
            self.feeds[entity]["fields"]["reactive_kvarh"] = spec
            for c in columns:
                self.claim(c.name, "reactive_energy")
                self.decide(
                    c.name,
                    entity,
                    "reactive_kvarh",
                    0.5,
                    "several reactive energy columns (lagging/leading?): summed; check",
                )

    def _feed_production_counts(self) -> None:
        entity = "production_counts"
        self._machine(entity)
        self.field_from(entity, "product_id", "product")
        self.field_from(entity, "work_order_id", "work_order")
        self._time_or_date(entity, "counted_at", "production_date")
        self.field_from(entity, "shift", "shift")
        self._measure(entity, "planned_time_s", "planned_time")
        total = self.field_from(entity, "total_count", "total_count")
        good = self.field_from(entity, "good_count", "good_count")
        reject = self.field_from(entity, "reject_count", "reject_count")
        if total is None:
            parts = [c for c in (good, reject) if c is not None]
            self.feeds[entity]["fields"]["total_count"] = {"expr": " + ".join(_ident(c.name) for c in parts)}
            for c in parts:
                self.decide(
                    c.name,
                    entity,
                    "total_count",
                    0.5,
                    "no total column: total = " + " + ".join(p.name for p in parts),
                )
        defect = self.best("defect")
        if defect:
            self.claim(defect[0].name, "defect")
            self._coded(entity, "defect_code", defect[0], "defect_types", "defect_text")

    def _time_or_date(self, entity: str, time_field: str | None, date_field: str | None) -> None:
        if self.time is None:
            return
        if self.time.kind == "date":
            if date_field:
                self.time_field(entity, date_field)
        elif time_field:
            self.time_field(entity, time_field)

    def _feed_cycles(self) -> None:
        entity = "cycles"
        self.field_from(entity, "cycle_id", "cycle_id")
        self._machine(entity)
        self.field_from(entity, "product_id", "product")
        self.field_from(entity, "work_order_id", "work_order")
        self.field_from(entity, "lot_id", "lot")
        self.field_from(entity, "unit_id", "tool")
        self.time_field(entity, "started_at")
        self.field_from(entity, "ended_at", "end_time")
        self._measure(entity, "cycle_time_s", "cycle_time", default_unit="s")
        self._tags(entity)

    def _feed_quality_results(self) -> None:
        entity = "quality_results"
        fields = self.feeds[entity]["fields"]
        if "production_counts" in self.feeds:  # one inspected lot per count row
            counts = self.feeds["production_counts"]["fields"]
            for name in ("machine_id", "product_id", "shift"):
                if name in counts and "value" not in counts[name]:
                    fields[name] = dict(counts[name])
                    self._copy_decision("production_counts", name, entity, name)
            self._time_or_date(entity, "inspected_at", "production_date")
            if "total_count" in counts:
                fields["inspected_count"] = dict(counts["total_count"])
                self._copy_decision("production_counts", "total_count", entity, "inspected_count")
            if "reject_count" in counts:
                fields["defect_count"] = dict(counts["reject_count"])
                self._copy_decision("production_counts", "reject_count", entity, "defect_count")
            for name in ("defect_code", "defect_text"):
                if name in counts:
                    fields[name] = dict(counts[name])
                    self._copy_decision("production_counts", name, entity, name)
            return
        label = self.best("pass_label")
        if self.per_file_label:
            fields["inspection_id"] = {"column": "_source_file"}
            fields["cycle_id"] = {"column": "_source_file"}
            self.feeds[entity]["dedup"] = ["inspection_id"]
            self.notes.append(
                "the label is constant within each file: one inspection per file (_source_file), deduplicated"
            )
        elif "cycles" in self.feeds and "cycle_id" in self.feeds["cycles"]["fields"]:
            spec = self.feeds["cycles"]["fields"]["cycle_id"]
            fields["inspection_id"] = dict(spec)
            fields["cycle_id"] = dict(spec)
            self._copy_decision("cycles", "cycle_id", entity, "inspection_id")
            self._copy_decision("cycles", "cycle_id", entity, "cycle_id")
        for name, concept in (("machine_id", "machine"), ("product_id", "product")):
            source = self.feeds.get("cycles", {}).get("fields", {}).get(name)
            if source and "value" not in source:
                fields[name] = dict(source)
                self._copy_decision("cycles", name, entity, name)
            elif "cycles" not in self.feeds:
                self.field_from(entity, name, concept)
        if not self.per_file_label:
            self._time_or_date(entity, "inspected_at", "production_date")
        if label is not None:
            column, m = label
            mapping, confidence, why = self._pass_map(column)
            if mapping is not None:
                spec = {"column": column.name, "map": mapping}
                if column.null_values:
                    spec["null_values"] = list(column.null_values)
                fields["is_pass"] = spec
                self.claim(column.name, "pass_label")
                if self.per_file_label:
                    why += "; constant within each file, varying across files: the file (run) is inspected"
                self.decide(
                    column.name,
                    entity,
                    "is_pass",
                    min(confidence, m.score + 0.1),
                    f"{self._how(m, 'a pass/fail label')}; {why}",
                )
        defect = self.best("defect")
        if defect and (label is not None or self.best("reject_count")):
            self.claim(defect[0].name, "defect")
            self._coded(entity, "defect_code", defect[0], "defect_types", "defect_text")

    def _copy_decision(self, from_entity: str, from_field: str, entity: str, target: str) -> None:
        for d in list(self.decisions):
            if d.entity == from_entity and d.target == from_field:
                self.decide(d.column, entity, target, d.confidence, f"as {from_entity}.{from_field}")

    def _feed_machine_states(self) -> None:
        entity = "machine_states"
        self._machine(entity)
        self.time_field(entity, "started_at")
        found = self.best("state")
        assert found is not None
        column, _m = found
        self.claim(column.name, "state")
        self._coded(entity, "state", column, "machine_states", "state_text")
        fields = self.feeds[entity]["fields"]
        if "state" not in fields:
            fields["state"] = {"column": column.name, "map": {}, "default": "offline"}
            self.notes.append(f"TODO {column.name}: write the state map (default offline is a placeholder)")
            self.decide(column.name, entity, "state", 0.3, "state values unknown to the dictionary: map them")
        step = self._interval_seconds()
        if step:
            self.feeds[entity]["sample_period"] = _duration_text(step)
            self.notes.append(
                f"sample_period {_duration_text(step)}: the median step between rows; "
                "a state lasts at most that"
            )

    def _feed_downtime_events(self) -> None:
        entity = "downtime_events"
        self._machine(entity)
        self.field_from(entity, "downtime_id", "work_order")
        if self.time is not None:
            if self.time.kind == "date":
                self.time_field(entity, "production_date")
            elif (
                self.time.kind == "timestamp"
                and self.time.columns
                and self.roles.get(self.time.columns[0]) is None
            ):
                self.time_field(entity, "started_at")
        date = self.best("date")
        if date and "production_date" not in self.feeds[entity]["fields"]:
            self.field_from(entity, "production_date", "date")
        self.field_from(entity, "ended_at", "end_time")
        self.field_from(entity, "shift", "shift")
        self._measure(entity, "duration_s", "duration", default_unit="min")
        reason = self.best("downtime_reason")
        if reason:
            self.claim(reason[0].name, "downtime_reason")
            self._coded(entity, "reason_code", reason[0], "stop_reasons", "reason_text")

    def _feed_maintenance_events(self) -> None:
        entity = "maintenance_events"
        self.field_from(entity, "maintenance_id", "work_order")
        self._machine(entity)
        self.field_from(entity, "unit_id", "tool")
        reported = self.best("reported_time")
        if reported:
            self.field_from(entity, "reported_at", "reported_time", spec=_time_spec(reported[0]))
        elif self.time is not None:
            self.time_field(entity, "reported_at")
        start = self.best("start_time")
        if start:
            self.field_from(entity, "repair_started_at", "start_time", spec=_time_spec(start[0]))
        end = self.best("end_time")
        if end:
            self.field_from(entity, "repair_ended_at", "end_time", spec=_time_spec(end[0]))
        fields = self.feeds[entity]["fields"]
        if "reported_at" not in fields:
            source = fields.get("repair_started_at")
            if source:
                fields["reported_at"] = dict(source)
                self._copy_decision(entity, "repair_started_at", entity, "reported_at")
            else:
                fields["reported_at"] = {
                    "from_order": {"order": "row", "cadence": PLACEHOLDER_CADENCE, "start": PLACEHOLDER_START}
                }
        mtype = self.best("maintenance_type")
        if mtype:
            self.claim(mtype[0].name, "maintenance_type")
            self._coded(entity, "event_type", mtype[0], "maintenance_types", None)
        self.field_from(entity, "failure_mode", "failure_mode")

    def _feed_sensor_readings(self) -> None:
        entity = "sensor_readings"
        self.field_from(entity, "machine_id", "machine")
        self.field_from(entity, "unit_id", "tool")
        if self.per_file_label:
            self.feeds[entity]["fields"]["cycle_id"] = {"column": "_source_file"}
            self.notes.append(
                "each file is one run: sensor_readings.cycle_id is the file name (_source_file)"
            )
        if self.time is not None:
            self.time_field(entity, "read_at")
        self._tags(entity)

    def _tags(self, entity: str) -> None:
        tags: dict[str, Any] = {}
        cycle_time = self.feeds[entity]["fields"].get("cycle_time_s")
        for column in self._numeric_columns(
            exclude_counts=entity == "sensor_readings" and "production_counts" in self.feeds
        ):
            tags[column.name] = self._tag_spec(column)
            why = f"a numeric {'process parameter' if entity == 'cycles' else 'measurement'}"
            confidence = 0.8
            if column.unit:
                why += f", unit {column.unit} from the header"
            else:
                why += "; no unit in the header: add one if known"
                confidence = 0.7
            if column.sentinel:
                why += f"; {column.sentinel} looks like a stand-in for 'missing' (null_values)"
                confidence = min(confidence, 0.6)
            if column.constant:
                why += f"; constant ({column.examples[0]}) in the sample"
                confidence = min(confidence, 0.6)
            self.decide(column.name, entity, f"tag:{column.name}", confidence, why)
            self.claim(column.name, "tag")
        if cycle_time and "column" in cycle_time:
            name = cycle_time["column"]
            column = self.columns[name]
            tags[name] = self._tag_spec(column, cycle_time.get("unit"))
            self.decide(name, entity, f"tag:{name}", 0.8, "the cycle time, also kept as a process parameter")
        for column in self.profile.columns:
            if column.name in self.roles or column.type not in ("text", "bool") or not column.code_like:
                continue
            pair = self._binary_pair(column)
            if pair is None:
                continue
            low, high = pair
            tags[column.name] = {"map": {low: 0, high: 1}}
            self.claim(column.name, "tag")
            self.decide(
                column.name,
                entity,
                f"tag:{column.name}",
                0.6,
                f"two-valued text as a number: {low} = 0, {high} = 1",
            )
        self.feeds[entity]["tags"] = _distinct_tag_names(tags)

    def _tag_spec(self, column: ColumnProfile, unit: str | None = None) -> Any:
        unit = unit or column.unit
        spec: dict[str, Any] = {}
        if unit:
            spec["unit"] = unit
        nulls = list(column.null_values)
        if column.sentinel:
            nulls.append(column.sentinel)
        if nulls:
            spec["null_values"] = nulls
        return spec["unit"] if list(spec) == ["unit"] else spec

    def _binary_pair(self, column: ColumnProfile) -> tuple[str, str] | None:
        values = {v.casefold(): v for v in column.codes}
        for low, high in self.dictionary.binary_pairs:
            if set(values) <= {low.casefold(), high.casefold()} and values:
                sample = next(iter(values.values()))
                return (
                    values.get(low.casefold()) or _spelled_like(low, sample),
                    values.get(high.casefold()) or _spelled_like(high, sample),
                )
        return None

    # -- the rest ------------------------------------------------------------------------------------------

    def _finish(self) -> None:
        """Every column without a decision gets one saying why it is not mapped."""
        decided = {d.column for d in self.decisions}
        for column in self.profile.columns:
            if column.name in decided:
                continue
            self.decide(column.name, None, None, 0.0, self._why_unmapped(column))
        for feed in self.feeds.values():
            if not feed.get("tags") and "tags" in feed:
                del feed["tags"]

    def _why_unmapped(self, column: ColumnProfile) -> str:
        concepts = [m.concept for m in self.matches[column.name]]
        if column.type == "empty":
            return "empty in the sample"
        if "machine_name" in concepts:
            return "a machine name: put it in masters.equipment (machine_name) if wanted"
        if "calendar" in concepts:
            return "calendar values derived from the time (day of week, weekday/weekend)"
        if self._derived_from_time(column):
            return "derived from the time (seconds or minutes since midnight)"
        if "note" in concepts:
            return "free text (remark, operator): no common field"
        if column.constant:
            return f"constant ({column.examples[0]!r}) in the sample"
        if concepts and concepts[0] == "pass_label" and column.codes:
            values = list(column.codes)[:6]
            return f"named like a pass/fail label, but its values {values} are not known pass/fail words"
        if column.is_time and self.time is not None and self.time.columns:
            return f"a second {column.type} column; the rows are timed by {', '.join(self.time.columns)}"
        used = [c for c in concepts if c not in ("identifier", "sequence", "calendar", "note")]
        if used:
            return f"looks like {used[0].replace('_', ' ')}, but no entity this source feeds takes it here"
        if "identifier" in concepts or "sequence" in concepts or (column.unique and column.type == "text"):
            return "an identifier or running number with no field in the entities fed"
        if column.is_time:
            return f"a second {column.type} column; the time of the rows comes from another column"
        if column.code_like:
            values = list(column.codes)[:6]
            return f"code-like text {values} with no common field (or a tag with a value map to numbers)"
        if column.type == "text":
            return "text with no common field"
        if column.is_numeric:
            return "a numeric column the entities fed here take no tags for"
        return "no rule applies"

    def render(self, name: str, pattern: str) -> dict[str, Any]:
        p = self.profile
        source: dict[str, Any] = {"name": name, "files": pattern, "format": p.format}
        if p.format in ("csv", "tsv", "jsonl"):
            source["encoding"] = "auto" if p.encoding in ("utf-8-sig", "cp949", "utf-8") else p.encoding
        if p.format in ("csv", "tsv") and p.delimiter and p.delimiter != ("\t" if p.format == "tsv" else ","):
            source["delimiter"] = p.delimiter
        if p.sheet:
            source["sheet"] = p.sheet
        if p.format in ("csv", "tsv", "excel") and p.header_row != 1:
            source["header_row"] = p.header_row
        if p.header_row == 0 and p.format in ("csv", "tsv", "excel"):
            source["columns"] = p.names
        if p.skip_rows:
            source["skip_rows"] = p.skip_rows
        if p.decimal == ",":
            source["decimal"] = ","
        required = [
            d.column
            for d in self.decisions
            if d.mapped and d.confidence >= 0.8 and not d.target.startswith("tag:")
        ]
        if required and p.header_row:
            source["required_columns"] = list(dict.fromkeys(required))[:12]
        source["feeds"] = self._valid_feeds(source)
        return source

    def _valid_feeds(self, source: dict[str, Any]) -> dict[str, Any]:
        """The feeds that validate; a feed that does not is dropped with a note (never a broken draft)."""
        feeds: dict[str, Any] = {}
        for entity, feed in self.feeds.items():
            try:
                SourceSpec.model_validate({**source, "feeds": {entity: feed}})
            except ValueError as exc:
                self.notes.append(f"{entity} left out: {str(exc).splitlines()[-1].strip()}")
                for d in self.decisions:
                    if d.entity == entity:
                        d.entity, d.target, d.reason = None, None, f"its {entity} feed did not validate"
                continue
            feeds[entity] = feed
        if not feeds:
            fallback = {
                "fields": {
                    "read_at": {
                        "from_order": {
                            "order": "row",
                            "cadence": PLACEHOLDER_CADENCE,
                            "start": PLACEHOLDER_START,
                        }
                    }
                }
            }
            feeds["sensor_readings"] = fallback
            self.notes.append(
                "TODO: nothing recognised; a placeholder sensor_readings feed keeps the draft valid"
            )
        return feeds


_ORDER = (
    "energy_readings",
    "production_counts",
    "downtime_events",
    "maintenance_events",
    "cycles",
    "quality_results",
    "machine_states",
    "sensor_readings",
)


def _ident(name: str) -> str:
    """A column name as an expression identifier (quoted unless it is a plain word)."""
    return name if re.fullmatch(r"[^\W\d]\w*", name) else '"' + name.replace('"', '""') + '"'


def _time_spec(column: ColumnProfile) -> dict[str, Any]:
    spec: dict[str, Any] = {"column": column.name}
    if column.format and not column.iso:
        spec["format"] = column.format
    return spec


def _bracket_unit(header: str, kind: str | None) -> str | None:
    """A bracketed unit the header scan leaves out ('정지(분)'), accepted if it is of the field's kind."""
    found = _BRACKETED_PART.findall(header)
    if not found or kind is None:
        return None
    text = found[-1][1:-1].strip()
    try:
        conversion(text, expected_kind=kind)
    except UnitError:
        return None
    return text


def _spelled_like(word: str, sample: str) -> str:
    if sample.isupper():
        return word.upper()
    if sample.islower():
        return word.lower()
    if sample.istitle():
        return word.title()
    return word


def _duration_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _distinct_tag_names(tags: dict[str, Any]) -> dict[str, Any]:
    """Columns whose default tag names are the same (``Temp (1)`` and ``Temp_1``) get numbered ``tag:``
    names: a row gives one reading per tag, and the mapping refuses two columns of one."""
    defaults = {tag_name(column) for column in tags}
    used: set[str] = set()
    distinct: dict[str, Any] = {}
    for column, spec in tags.items():
        name = tag_name(column)
        if name in used:
            number = 2
            while f"{name}_{number}" in used | defaults:
                number += 1
            name = f"{name}_{number}"
            spec = {**({"unit": spec} if isinstance(spec, str) else spec), "tag": name}
        used.add(name)
        distinct[column] = spec
    return distinct
