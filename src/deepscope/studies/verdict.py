"""A published claim checked on a run: what was claimed, what was measured, and whether it holds.

A verdict has three states. HOLDS and FAILS compare the measured value with the paper's
threshold. UNDECIDED is for a run with less evidence than the claim needs (fewer layers,
checkpoints, seeds or points than the study's declared minimum): then ``holds`` is None and
``reason`` says what is missing. A line through two points always has |r| = 1, so such a fit
never HOLDS.
"""
from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass
from typing import Any

DIRECTIONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Evidence:
    """How much of something a run measured, and the least the claim needs (e.g. 2 layers of 3)."""

    count: int
    minimum: int
    unit: str  # plural noun: "layers", "checkpoints", "seeds", "points"
    needer: str = "the claim"  # who needs it, e.g. "the law"

    @property
    def enough(self) -> bool:
        return self.count >= self.minimum

    @property
    def shortfall(self) -> str:
        """E.g. '2 layers; the law needs at least 3'."""
        return f"{self.count} {self.unit}; {self.needer} needs at least {self.minimum}"


@dataclass(frozen=True)
class Verdict:
    """``holds`` is ``measured <= threshold`` (or ``>=``, ``<``, ``>``, as ``direction`` says), or None when
    UNDECIDED.

    ``detail`` is the one line printed for a person; ``reason`` is set when the verdict is UNDECIDED.
    """

    claim: str
    quantity: str
    measured: float
    threshold: float
    direction: str  # "<=", ">=", "<", ">", or "within [low, high]" for an interval claim
    holds: bool | None
    detail: str
    reason: str | None = None

    @property
    def state(self) -> str:
        """'HOLDS', 'FAILS' or 'UNDECIDED'."""
        return "UNDECIDED" if self.holds is None else ("HOLDS" if self.holds else "FAILS")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: every field plus ``state``; a NaN measurement becomes None."""
        out = asdict(self)
        out["measured"] = self.measured if math.isfinite(self.measured) else None
        out["state"] = self.state
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Rebuild a verdict stored with :meth:`to_dict`."""
        measured = data["measured"]
        return cls(data["claim"], data["quantity"], math.nan if measured is None else float(measured),
                   float(data["threshold"]), data["direction"], data["holds"], data["detail"], data.get("reason"))

    def __str__(self) -> str:
        return f"{self.state}: {self.detail}"


def check(claim: str, quantity: str, measured: float, threshold: float, direction: str,
          evidence: Evidence | None = None) -> Verdict:
    """Compare ``measured`` with ``threshold`` and say by how much it passes or misses.

    With ``evidence`` below its minimum the verdict is UNDECIDED whatever the number; a
    measurement that is not finite (a diverged run) FAILS.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    measured = float(measured)
    shown = f"{quantity} = {measured:.4f}"
    if evidence is not None and not evidence.enough:
        return undecided(claim, quantity, measured, threshold, direction, evidence.shortfall)
    if not math.isfinite(measured):
        return Verdict(claim, quantity, measured, float(threshold), direction, False,
                       f"{claim}: {quantity} could not be measured ({measured}); needs {direction} {threshold:g}")
    holds = DIRECTIONS[direction](measured, threshold)
    how = "within the threshold by" if holds else "misses the threshold by"
    detail = f"{claim}: {shown} (needs {direction} {threshold:g}; {how} {abs(measured - threshold):.4f})"
    return Verdict(claim, quantity, measured, float(threshold), direction, bool(holds), detail)


def check_interval(claim: str, quantity: str, estimate: float, interval: tuple[float, float],
                   allowed: tuple[float, float], evidence: Evidence | None = None) -> Verdict:
    """HOLDS when the whole confidence ``interval`` of ``estimate`` lies inside ``allowed`` = [low, high]."""
    low, high = allowed
    where = f"[{low:g}, {high:g}]"
    if evidence is not None and not evidence.enough:
        return undecided(claim, quantity, estimate, (low + high) / 2, f"within {where}", evidence.shortfall)
    lo, hi = interval
    holds = bool(math.isfinite(lo) and math.isfinite(hi) and low <= lo and hi <= high)
    how = "inside" if holds else "not inside"
    detail = (f"{claim}: {quantity} = {estimate:.4f}, 95% interval [{lo:.4f}, {hi:.4f}] ({how} {where})")
    return Verdict(claim, quantity, float(estimate), (low + high) / 2, f"within {where}", holds, detail)


def undecided(claim: str, quantity: str, measured: float, threshold: float, direction: str, reason: str) -> Verdict:
    """An UNDECIDED verdict: the run cannot test the claim, for ``reason`` (too little evidence, or the
    regime the claim is about was never reached); ``measured`` is shown but not compared."""
    shown = "" if math.isnan(measured) else f" {quantity} = {measured:.4f} is not evidence"
    needs = direction if direction.startswith("within") else f"{direction} {threshold:g}"
    detail = f"{claim}:{shown or ' not tested'} ({reason}; the threshold {needs} is not applied)"
    return Verdict(claim, quantity, float(measured), float(threshold), direction, None, detail, reason)


def as_list(verdicts: Verdict | list[Verdict] | tuple[Verdict, ...]) -> list[Verdict]:
    """A study's verdict(s) as a list (a study may return one Verdict or several)."""
    return [verdicts] if isinstance(verdicts, Verdict) else list(verdicts)


def headline(verdicts: list[Verdict]) -> str:
    """One word for a set of verdicts: FAILS if any fails, else UNDECIDED if any is, else HOLDS."""
    states = {v.state for v in verdicts}
    for state in ("FAILS", "UNDECIDED", "HOLDS"):
        if state in states:
            return state
    return "-"
