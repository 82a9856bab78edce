"""A published claim checked on a run: what was claimed, what was measured, and whether it holds."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """``holds`` is ``measured <= threshold`` or ``>=``, as ``direction`` says; ``detail`` explains it."""

    claim: str
    measured: float
    threshold: float
    direction: str  # "<=" or ">="
    holds: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{'HOLDS' if self.holds else 'FAILS'}: {self.detail}"


def check(claim: str, quantity: str, measured: float, threshold: float, direction: str) -> Verdict:
    """Compare ``measured`` with ``threshold`` and say by how much it passes or misses."""
    if direction not in ("<=", ">="):
        raise ValueError(f"direction must be '<=' or '>='; got {direction!r}")
    holds = measured <= threshold if direction == "<=" else measured >= threshold
    margin = abs(measured - threshold)
    how = "within the threshold by" if holds else "misses the threshold by"
    detail = f"{claim}: {quantity} = {measured:.4f} (needs {direction} {threshold:g}; {how} {margin:.4f})"
    return Verdict(claim, float(measured), float(threshold), direction, bool(holds), detail)
