"""Result tables for the terminal, Markdown and CSV, shared by every protocol.

A protocol's result describes its table once (`Table`: a label, the columns, the rows, an
optional footer line); `format_text`, `format_markdown`, `format_csv` and `write_tables` render
it. ``ssrstf evaluate`` prints the text table and writes the other two with ``--out``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ssrstf.files import atomic_write


@dataclass(frozen=True)
class Column:
    """One column: its title (terminal, Markdown), CSV name, terminal width, decimals.

    The first column holds the row names (left-aligned text, ``decimals`` unused); the others
    hold numbers (right-aligned; ``decimals`` 0 = an integer). CSV numbers get 4 decimals.
    """

    title: str
    csv_name: str
    width: int
    decimals: int = 2


@dataclass(frozen=True)
class Table:
    """A result table: ``label`` above ``rows`` (name, then one value per further column)."""

    label: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    footer: str = ""


def _cell(value: object, column: Column, decimals: int | None = None) -> str:
    places = column.decimals if decimals is None else decimals
    return f"{int(value)}" if column.decimals == 0 else f"{float(value):.{places}f}"


def format_text(table: Table) -> str:
    """A plain-text table for the terminal."""
    first, *rest = table.columns
    header = f"{first.title:<{first.width}}" + "".join(f"{c.title:>{c.width}}" for c in rest)
    lines = [table.label, header]
    for name, *values in table.rows:
        cells = (f"{_cell(v, c):>{c.width}}" for v, c in zip(values, rest, strict=True))
        lines.append(f"{name!s:<{first.width}}" + "".join(cells))
    if table.footer:
        lines.append(table.footer)
    return "\n".join(lines)


def format_markdown(table: Table) -> str:
    """The table as Markdown, the label in bold above it."""
    titles = [c.title[:1].upper() + c.title[1:] for c in table.columns]
    lines = [
        f"**{table.label}**",
        "",
        "| " + " | ".join(titles) + " |",
        "|---|" + "---:|" * (len(titles) - 1),
    ]
    for name, *values in table.rows:
        cells = [_cell(v, c) for v, c in zip(values, table.columns[1:], strict=True)]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines) + "\n"


def format_csv(table: Table) -> str:
    """The table as CSV: a header of the columns' CSV names, numbers with 4 decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.csv_name for c in table.columns])
    for name, *values in table.rows:
        cells = [_cell(v, c, 4) for v, c in zip(values, table.columns[1:], strict=True)]
        writer.writerow([name, *cells])
    return buffer.getvalue()


def write_tables(table: Table, path: str | Path) -> tuple[Path, Path]:
    """Write ``<path>.md`` and ``<path>.csv`` (the suffix of ``path`` is replaced).

    Returns:
        The Markdown and CSV paths.
    """
    path = Path(path)
    markdown, spreadsheet = path.with_suffix(".md"), path.with_suffix(".csv")
    for target, text in ((markdown, format_markdown(table)), (spreadsheet, format_csv(table))):
        atomic_write(target, lambda temp, text=text: temp.write_text(text))
    return markdown, spreadsheet
