"""What the operator pages' tables share: escaping, the number formats, and the table itself
(an id, a caption, a header row, the rows, and one row saying so when there are none).

Every header and caption is escaped here; rows come built (their cells escaped by the caller),
because each table's cells carry their own data attributes and links.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


def esc(value: Any) -> str:
    return html.escape(str(value))


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.5f}"


def table(table_id: str, header: Sequence[str], rows: Iterable[str], empty: str,
          caption: str = "") -> str:
    """``<table id=...>`` with ``rows`` (each a built ``<tr>``), or one row spanning every
    column that says ``empty``."""
    body = "".join(rows) or f'<tr><td colspan="{len(header)}">{esc(empty)}</td></tr>'
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table id="{esc(table_id)}">{cap}<tr>{head}</tr>{body}</table>'
