"""The one exception tree of atomcast, and the :class:`Problem` record that ``check`` prints.

Everything atomcast raises on purpose derives from :class:`AtomcastError`, so a caller can
catch the whole family in one place and a CLI never shows a traceback for bad input.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]

#: Invisible characters that reorder or hide text on a terminal (bidi overrides and isolates).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with control, line-separator and bidi characters escaped (``\\n``, ``\\x1b``).

    A file named ``a\\nb.md`` or a message quoting one must stay one line that a terminal
    shows as written: an editor's output is parsed line by line, and a bidi override could
    make a path read as another.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


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
        if not self.path:
            # Not about a file (no project at all): no PATH:LINE to send an editor to.
            return f"{self.severity}: {printable(self.message)}"
        return f"{printable(self.path)}:{self.line}: {self.severity}: {printable(self.message)}"

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


class NoProjectError(ProjectError):
    """The folder does not exist or holds no ``atomcast.yaml``: not a project at all.

    A :class:`ProjectError` so that every caller that prints a project's problems prints
    this one too, as a plain ``error: no project at PATH (...)`` line.
    """

    def __init__(self, root: Path, reason: str) -> None:
        self.root = root
        super().__init__([Problem("", 0, "error", f"no project at {root} ({reason})")])


class InputTooLargeError(AtomcastError):
    """A file is larger than atomcast reads (project files, profiles): refused unread."""


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


class ParameterError(AtomcastError, ValueError):
    """An argument of a library call is unusable (``at`` that is not an instant, a sample
    size below 2...).

    ``parameter`` names the argument, so that a command line can name its own option for it
    (``--at``) while the library names none; ``str()`` is ``"PARAMETER: REASON"``.
    """

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


class DatetimeError(AtomcastError, ValueError):
    """A value is not an ISO 8601 date or datetime (a ``ValueError`` as well, for callers
    that parse several kinds of values)."""


class DatetimeRangeError(DatetimeError):
    """A well-formed date or datetime whose UTC instant Python cannot hold."""


class CellError(AtomcastError, ValueError):
    """A CSV cell is not of its column's schema type (a ``ValueError`` as well: the reader
    turns any unconvertible cell into a reject naming the column)."""


class StateFileError(AtomcastError, ValueError):
    """A file a batch run wrote for itself (a chunk's statistics, a decision log part) does
    not read back as written: damaged, or another version of atomcast wrote it. A
    ``ValueError`` as well: readers treat it as any unreadable record."""


class YamlSyntaxError(AtomcastError):
    """Malformed YAML, with the 1-based line of the problem."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(message)


class UnknownCampaignError(AtomcastError):
    """The campaign asked for is not declared in ``atomcast.yaml``."""


class UnknownChannelError(AtomcastError):
    """A channel asked for is not one atomcast renders (email, push, sms, web)."""


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


@dataclass(frozen=True, slots=True)
class Argument:
    """An argument a message tells the caller to change: the library words it as the
    argument (``resume=True``), a command line as its option (``--resume``)."""

    words: str
    flag: str

    def __str__(self) -> str:
        return self.words


#: What a message is made of: text, and the arguments it names.
MessagePart = str | Argument


class BatchError(AtomcastError):
    """A batch run cannot start or continue (bad input file, unreadable output folder).

    Built from parts: ``str()`` words the arguments it names as the library's
    (``resume=True``); :meth:`worded` as a command line's options (``--resume``).
    """

    def __init__(self, *parts: MessagePart) -> None:
        self.parts = parts
        super().__init__("".join(map(str, parts)))

    def worded(self, *, flags: bool) -> str:
        """The message, naming arguments as options (``flags``) or as the library's."""
        return "".join(
            part.flag if flags and isinstance(part, Argument) else str(part) for part in self.parts
        )


class ExportError(AtomcastError):
    """A static export would write outside its folder or under a name unfit for a path."""


class ListenError(AtomcastError):
    """A server cannot listen where it was asked to (port in use, not allowed, no such host)."""


class ServeError(AtomcastError):
    """``atomcast serve`` cannot start as asked (no API keys for a public bind, a bad key)."""


class RequestError(AtomcastError):
    """A request to the preview or decision server that is refused: ``status`` is the HTTP
    4xx code."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        #: The request field at fault (``profile.email``), when one is.
        self.field = field


class InitError(AtomcastError):
    """``atomcast init`` would overwrite a file, or cannot write into the folder."""


class ReferenceDocError(AtomcastError):
    """The configuration reference cannot be generated: an example fails or a mistake passes."""


class ReviewError(AtomcastError):
    """A change review cannot start: a revision git does not know, a folder outside a
    repository, a campaign neither side has (bad arguments, exit status 2 on the CLI)."""


class StoreError(AtomcastError):
    """The decision store cannot be opened, read or written: a bad ``--store`` URL, a
    database that refuses the connection, a schema written by another atomcast."""


class ResultsError(AtomcastError):
    """``atomcast results`` cannot run: no decision log, an unreadable events file, an
    unknown metric. (Bad event *records* are never errors: they are counted as rejected.)"""


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, as a POSIX string for stable output."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
