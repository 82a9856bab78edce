"""One-line printing for result dataclasses, so a result in a notebook shows its numbers, not its arrays."""
from __future__ import annotations

from abc import ABC, abstractmethod


class Summarized(ABC):
    """A result that prints as its one-line :meth:`summary`.

    ``str(result)`` is the summary and ``repr(result)`` is ``<TypeName summary>``; the fields stay
    available as attributes. Dataclasses using it are declared with ``repr=False`` (a generated
    ``__repr__`` would replace this one).
    """

    @abstractmethod
    def summary(self) -> str:
        """The result in one short line, e.g. ``TwoNN ID 9.87 ± 0.12 (n=1000 used, act_ids convention)``."""

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.summary()}>"
