"""The one exception tree of atomcast, and the :class:`Problem` record that ``check`` prints.

Everything atomcast raises on purpose derives from :class:`AtomcastError`, so a caller can
catch the whole family in one place and a CLI never shows a traceback for bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One finding about a content project, printed as ``PATH:LINE: severity: MESSAGE``.

    ``path`` is relative to the project root when it lies inside it.
    """

    path: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class AtomcastError(Exception):
    """Base class of every error atomcast raises on purpose."""


class ProjectError(AtomcastError):
    """The project did not load: it carries every problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        first = "\n".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        suffix = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the project:\n{first}{suffix}")


class ConditionError(AtomcastError):
    """A condition is malformed or does not fit the profile schema.

    ``where`` is the key path inside the condition (for mapping back to a YAML line).
    """

    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        self.where = where
        super().__init__(message)


class ProfileError(AtomcastError):
    """A profile does not fit the project's profile schema."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class UnknownCampaignError(AtomcastError):
    """The campaign asked for is not declared in ``atomcast.yaml``."""


class RenderError(AtomcastError):
    """A template or layout failed for one profile and channel.

    Caught per channel: the channel reports ``status: error`` and the other channels go on.
    """


class LimitError(AtomcastError):
    """One record or one template went past a bound of ``limits:`` in ``atomcast.yaml``
    (time, text size, a regular expression's time): that record or channel fails, the run
    goes on."""


class ImageError(AtomcastError):
    """An image source could not be read or converted."""


class BatchError(AtomcastError):
    """A batch run cannot start or continue (bad input file, unreadable output folder)."""


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, as a POSIX string for stable output."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
