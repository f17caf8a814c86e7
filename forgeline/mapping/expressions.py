"""Restricted expressions in mappings (derived fields, row filters), parsed and checked with sqlglot.

A mapping may say ``good_count: {expr: "생산수량 - 불량수량"}`` or ``where: "tryshot_signal is null"``.
The text is never pasted into SQL: sqlglot parses it into a syntax tree, every node is checked against a
short allow-list (column names, literals, arithmetic, comparisons, CASE and a few scalar functions), and
the SQL is generated again from the tree, with every column quoted. Anything else — a subquery, a table,
a second statement, an unknown function — is refused with a message that says what is allowed.

Source columns arrive as text. A column used in arithmetic, or compared with a number, is read as a
number (``TRY_CAST(… AS DOUBLE)``): ``생산수량 - 불량수량`` means what it says.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

DIALECT = "duckdb"

_ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Paren,
    exp.Neg,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.DPipe,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Case,
    exp.If,
    exp.Coalesce,
    exp.Nullif,
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
    exp.Greatest,
    exp.Least,
    exp.Upper,
    exp.Lower,
    exp.Trim,
    exp.Substring,
    exp.Left,
    exp.Right,
    exp.Length,
    exp.Concat,
    exp.Cast,
    exp.TryCast,
    exp.DataType,
    exp.Like,
    exp.ILike,
    exp.RegexpExtract,
)
_ALLOWED_CASTS = {
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.BOOLEAN,
    exp.DataType.Type.DECIMAL,
}
_NUMERIC_CONTEXT = (
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
)
ALLOWED_HELP = (
    "column names, numbers and 'text', + - * / %, ||, comparisons, and/or/not, is null, in, between, "
    "like, CASE WHEN, coalesce, nullif, abs, round, floor, ceil, greatest, least, upper, lower, trim, "
    "substring, left, right, length, concat, regexp_extract, cast/try_cast; the pseudo-column _source_file "
    "is the delivered file's path"
)


class ExpressionError(ValueError):
    """An expression a mapping may not use; the message says why and what is allowed."""


def parse_expression(text: str) -> exp.Expression:
    """Parse ``text`` as one scalar expression and check every node; raise ExpressionError if not allowed."""
    try:
        statements = sqlglot.parse(text, dialect=DIALECT)
    except ParseError as exc:
        raise ExpressionError(f"expression {text!r} does not parse: {exc.errors[0]['description']}") from exc
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise ExpressionError(f"expression {text!r} must be one expression, not {len(statements)} statements")
    tree = statements[0]
    for node in tree.walk():
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(
                f"expression {text!r}: {node.key.upper()} ({node.sql(DIALECT)[:40]!r}) is not allowed; "
                f"a mapping expression may use only {ALLOWED_HELP}"
            )
        if isinstance(node, exp.Column) and node.table:
            raise ExpressionError(f"expression {text!r}: write column names alone, not {node.sql(DIALECT)!r}")
        if isinstance(node, exp.DataType) and node.this not in _ALLOWED_CASTS:
            raise ExpressionError(f"expression {text!r}: cannot cast to {node.sql(DIALECT)}")
    return tree


def columns_of(text: str) -> list[str]:
    """The source columns an expression reads."""
    return sorted({c.name for c in parse_expression(text).find_all(exp.Column)})


def _in_numeric_context(column: exp.Column) -> bool:
    parent = column.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    if isinstance(parent, _NUMERIC_CONTEXT):
        return True
    if isinstance(parent, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE | exp.Between):
        return any(isinstance(a, exp.Literal) and not a.is_string for a in parent.iter_expressions())
    return False


def compile_expression(text: str, available: Iterable[str] | None = None, where: str = "") -> str:
    """DuckDB SQL for a checked expression over the raw (text) columns of one source.

    ``available`` (the source's columns, when known) turns a misspelt column into a clear error.
    """
    tree = parse_expression(text).copy()
    if available is not None:
        known = list(available)
        folded = {c.casefold(): c for c in known}
        for column in tree.find_all(exp.Column):
            name = column.name
            if name not in known:
                hint = f" (did you mean {folded[name.casefold()]!r}?)" if name.casefold() in folded else ""
                raise ExpressionError(
                    f"{where}expression {text!r} reads column {name!r}, which the source lacks{hint}; "
                    f"its columns are {known}"
                )
    for column in list(tree.find_all(exp.Column)):
        quoted = exp.column(exp.to_identifier(column.name, quoted=True))
        if _in_numeric_context(column):
            column.replace(exp.TryCast(this=quoted, to=exp.DataType.build("DOUBLE")))
        else:
            column.replace(quoted)
    return tree.sql(dialect=DIALECT)
