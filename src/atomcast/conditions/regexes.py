"""Regular expressions in conditions: compiled once (bounded cache), matched under a time
limit, and statically screened for patterns that backtrack catastrophically."""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from typing import Any, Final

import regex  # type: ignore[import-untyped]

from atomcast import limits
from atomcast.errors import LimitError


@functools.lru_cache(maxsize=4096)
def _compile_text(pattern: str, flags: int) -> Any:
    return _compile_any(pattern, flags)


def _compile_any(pattern: Any, flags: int) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern, flags)
            return regex.compile(pattern, flags | regex.VERSION0)
    except Exception:
        return None


def compile_regex(pattern: Any, flags: int) -> Any:
    """The compiled pattern, or ``None`` when GrowthBook's attempt would raise.

    ``re`` decides what is valid (as before); matching runs in ``regex``, whose matcher
    takes a timeout (``limits.regex_timeout``): a pattern that backtracks catastrophically
    on one profile's value costs that profile, not the run. Warnings (FutureWarning for
    "possible nested set") are silenced so that a condition does not change meaning when
    warnings are turned into errors, as pytest does. String patterns are cached (bounded;
    :func:`atomcast.conditions.clear_cache` empties it).
    """
    if isinstance(pattern, str):
        return _compile_text(pattern, flags)
    return _compile_any(pattern, flags)


def clear_regex_cache() -> None:
    """Forget every compiled pattern."""
    _compile_text.cache_clear()


#: Values this short are matched without a timer (which costs more than the match): even
#: exponential backtracking over 16 characters is some 65,000 steps, a few milliseconds.
UNTIMED_LENGTH: Final = 16


def search(compiled: Any, value: str) -> bool:
    """``compiled.search(value)``, bounded by ``limits.regex_timeout``.

    :raises LimitError: when the match takes longer.
    """
    if len(value) <= UNTIMED_LENGTH:
        return compiled.search(value) is not None
    timeout = limits.current().regex_timeout
    try:
        return compiled.search(value, timeout=timeout) is not None
    except TimeoutError:
        raise LimitError(
            f"$regex {compiled.pattern!r} took longer than {timeout:g} s on a "
            f"{len(value):,}-character value (limits.regex_timeout in atomcast.yaml)"
        ) from None


#: Values up to this long have their result remembered by a :class:`RegexTest`...
MEMO_LENGTH: Final = 64
#: ... at most this many per test (emptied when full).
MEMO_ENTRIES: Final = 512


class RegexTest:
    """A compiled condition's ``$regex`` on text: :func:`search`, with the results of short
    values remembered.

    Profiles repeat a few values (cities, plans, e-mail domains), and between two profiles
    the ``regex`` module's matcher falls out of the CPU's caches: a search then costs some
    10 us against 0.6 us warm, a quarter of a demo profile's selection. The memo is bounded
    (:data:`MEMO_ENTRIES` values of at most :data:`MEMO_LENGTH` characters) and belongs to
    the compiled condition, so it goes with the project that made it. A search that runs
    out of time raises, and nothing is remembered.
    """

    __slots__ = ("compiled", "known")

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.known: dict[str, bool] = {}

    def search(self, value: str) -> bool:
        found = self.known.get(value)
        if found is None:
            found = search(self.compiled, value)
            if len(value) <= MEMO_LENGTH:
                if len(self.known) >= MEMO_ENTRIES:
                    self.known.clear()
                self.known[value] = found
        return found

    def __repr__(self) -> str:
        return f"RegexTest({self.compiled.pattern!r})"


def regex_match(pattern: Any, value: Any, flags: int, negate: bool) -> bool:
    """GrowthBook's $regex family on one value (``negate`` for $notRegex)."""
    compiled = compile_regex(pattern, flags)
    if compiled is None:
        return negate  # GrowthBook's RegExp() threw: the test fails, its negation holds
    if not isinstance(value, str):
        try:
            found = compiled.search(value) is not None
        except Exception:
            return negate
        return not found if negate else found
    found = search(compiled, value)
    return not found if negate else found


# -- patterns that backtrack catastrophically -------------------------------------------------

_PARSER: Any = importlib.import_module("re._parser")
_COMPILER: Any = importlib.import_module("re._compiler")
#: Characters a first-character set is sampled over (literals are added as they are).
_SAMPLE = [chr(code) for code in range(128)] + list("\u00a0éß€ア😀")
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT"})


def _first(items: list[Any], state: Any) -> tuple[set[str], bool]:
    """The characters a sequence of parsed items can start with, and whether it can
    match the empty string."""
    found: set[str] = set()
    for op, argument in items:
        name = str(op)
        if name == "LITERAL":
            return found | {chr(argument)}, False
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # zero width
        if name in ("SUBPATTERN", "ATOMIC_GROUP"):
            inner, empty = _first(list(argument[-1]), state)
        elif name in _REPEATS or name == "POSSESSIVE_REPEAT":
            inner, empty = _first(list(argument[2]), state)
            empty = empty or argument[0] == 0
        elif name == "BRANCH":
            inner, empty = set(), False
            for alternative in argument[1]:
                more, nullable = _first(list(alternative), state)
                inner |= more
                empty = empty or nullable
        else:  # a class, a category, any character: sample it
            single = _PARSER.SubPattern(state, [(op, argument)])
            try:
                matcher = _COMPILER.compile(single, 0)
            except Exception:
                return found | set(_SAMPLE), False
            return found | {c for c in _SAMPLE if matcher.match(c)}, False
        found |= inner
        if not empty:
            return found, False
    return found, True


def _ambiguous(body: list[Any], state: Any) -> bool:
    """Whether a repeated body holds an alternation that can match one text two ways: two
    alternatives that start alike, or an empty one beside one that starts like what follows."""
    first_of_body, _ = _first(body, state)
    for index, (op, argument) in enumerate(body):
        name = str(op)
        if name == "SUBPATTERN":
            inner = list(argument[-1])
            if _ambiguous(inner + body[index + 1 :], state):
                return True
        if name != "BRANCH":
            continue
        follow, rest_empty = _first(body[index + 1 :], state)
        if rest_empty:
            follow |= first_of_body  # the next repetition
        seen: set[str] = set()
        nullable = 0
        for alternative in argument[1]:
            starts, empty = _first(list(alternative), state)
            if starts & seen:
                return True
            seen |= starts
            nullable += empty
        if nullable > 1 or (nullable and seen & follow):
            return True
    return False


def _unwrapped(items: list[Any]) -> list[Any]:
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    return items


def _nested(body: list[Any]) -> bool:
    """Whether a repeated body is, but for optional parts, one more repetition: ``(a+)+``."""
    items = _unwrapped(body)
    repeats = [item for item in items if str(item[0]) in _REPEATS and item[1][1] > 1]
    optional = [item for item in items if str(item[0]) in _REPEATS and item[1][0] == 0]
    required = [item for item in items if item not in repeats and item not in optional]
    return bool(repeats) and not required


def regex_hazard(pattern: str) -> str | None:
    """Why ``pattern`` can take exponential time on a short value (a repetition of a
    repetition, an alternation that matches one text two ways, inside a repetition), or
    ``None``. A static test of shape: ``(a+)+``, ``(a|a)*``, ``(a|aa)+``."""
    try:
        tree = _PARSER.parse(pattern)
    except Exception:
        return None
    state = tree.state

    def walk(items: list[Any]) -> str | None:
        for op, argument in items:
            name = str(op)
            if name in _REPEATS:
                body = list(argument[2])
                if argument[1] > 1 and _nested(body):
                    return "a repetition of a repetition, like (a+)+"
                if argument[1] > 1 and _ambiguous(body, state):
                    return "a repeated alternation whose alternatives match the same text"
                found = walk(body)
            elif name == "SUBPATTERN":
                found = walk(list(argument[-1]))
            elif name == "BRANCH":
                found = next((r for a in argument[1] if (r := walk(list(a)))), None)
            elif name in ("ASSERT", "ASSERT_NOT"):
                found = walk(list(argument[1]))
            else:
                found = None
            if found:
                return found
        return None

    return walk(list(tree))
