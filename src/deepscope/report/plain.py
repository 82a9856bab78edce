"""Plain output: JSON-safe values and aligned text tables, shared by the CLI commands."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def finite(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by None (recursively), so the printed JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[str] = ()) -> str:
    """An aligned plain-text table with a dashed rule under the header; ``right`` columns are right-aligned."""
    rows = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if name in right else cell.ljust(w)
                       for cell, w, name in zip(row, widths, header)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
