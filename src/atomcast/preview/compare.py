"""``atomcast preview --compare REV``: every matrix cell against the same cell at ``REV``.

The revision is read from git once, when the preview starts, and rendered with the same
rows (the working tree's personas and synthetic profiles), so a marked cell differs because
of the content alone. Before/after views carry the two outputs and, for email and web, both
documents with the changed words highlighted.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atomcast.errors import AtomcastError, ProfileError
from atomcast.models import Channel
from atomcast.preview.matrix import Cell, Matrix, PreviewRenderer, Row, render_row
from atomcast.project import Project, collect_problems
from atomcast.review.gitsource import revision_tree
from atomcast.schema import validate_profile

#: Base renders remembered (per campaign, instant, row and profile): a few matrices' worth.
BASE_MEMO_SIZE = 2_000
#: Text fields compared word by word in the before/after view, per channel.
TEXT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "email": ("subject", "preheader", "text"),
    "push": ("title", "subtitle", "body", "url"),
    "sms": ("text",),
    "web": (),
}
INSERT_STYLE = "background:#fde68a;color:inherit;outline:1px solid #d97706"
DELETE_STYLE = "background:#fecaca;color:inherit;text-decoration:line-through"


@dataclass(frozen=True, slots=True)
class BaseCell:
    """A cell at the base revision: its output and atoms, or why it has none."""

    output: Mapping[str, Any]
    atoms: Mapping[str, str | None]

    @property
    def status(self) -> str:
        return str(self.output.get("status", "error"))


def _absent(reason: str) -> BaseCell:
    return BaseCell({"status": "skipped", "reason": reason, "warnings": []}, {})


class Comparison:
    """The base side of a live comparison; create with :meth:`open`, end with :meth:`close`.

    :param project: the project at the revision (``None`` when its config does not load).
    """

    def __init__(
        self,
        label: str,
        project: Project | None,
        assets_dir: Path | None,
        stack: contextlib.ExitStack | None = None,
    ) -> None:
        self.label = label
        self.project = project
        self._renderer = (
            PreviewRenderer(project, assets_dir=assets_dir, display_prefix="/assets/")
            if project is not None
            else None
        )
        self._stack = stack
        self._lock = threading.Lock()
        self._memo: OrderedDict[tuple[str, str, str], Mapping[Channel, BaseCell]] = OrderedDict()

    @classmethod
    def open(cls, directory: Path, rev: str, *, assets_dir: Path | None = None) -> Comparison:
        """Read ``rev`` of the project in ``directory`` (renditions go to ``assets_dir``,
        the preview's own, so that the base's images show too).

        :raises ReviewError: for a folder outside a repository or an unknown revision.
        """
        stack = contextlib.ExitStack()
        try:
            revision = stack.enter_context(revision_tree(directory, rev))
            project, _ = collect_problems(revision.root)
        except BaseException:
            stack.close()
            raise
        return cls(revision.short, project, assets_dir, stack)

    def close(self) -> None:
        with self._lock:
            self._memo.clear()
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    # -- base cells --------------------------------------------------------------------------

    def _base_cells(self, matrix: Matrix, row: Row) -> Mapping[Channel, BaseCell]:
        raw = json.dumps(row.raw, sort_keys=True, default=str)
        key = (matrix.key, row.key, raw)
        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
                return found
            found = self._render_base(matrix, row)
            self._memo[key] = found
            while len(self._memo) > BASE_MEMO_SIZE:
                self._memo.popitem(last=False)
            return found

    def _render_base(self, matrix: Matrix, row: Row) -> Mapping[Channel, BaseCell]:
        project = self.project
        if project is None or self._renderer is None:
            return dict.fromkeys(
                matrix.channels, _absent(f"the project does not load at {self.label}")
            )
        if matrix.campaign not in project.config.campaigns:
            return dict.fromkeys(
                matrix.channels, _absent(f"campaign '{matrix.campaign}' is not in {self.label}")
            )
        try:
            profile = validate_profile(project.schema, row.raw)
        except ProfileError as exc:
            reason = f"profile does not fit the schema at {self.label}: {exc}"
            return dict.fromkeys(
                matrix.channels, BaseCell({"status": "error", "reason": reason, "warnings": []}, {})
            )
        renderer = self._renderer.campaign(matrix.campaign, at=matrix.at)
        base_row = Row(row.key, row.label, row.kind, row.description, row.raw, profile)
        _, cells = render_row(renderer, base_row, matrix.channels)
        return {channel: _base(cells.get(channel), channel) for channel in matrix.channels}

    # -- what the page asks --------------------------------------------------------------------

    def marks(self, matrix: Matrix) -> dict[str, Any]:
        """Which cells of ``matrix`` differ from the base, with both statuses."""
        changed: list[dict[str, Any]] = []
        for info in matrix.rows:
            base = self._base_cells(matrix, info.row)
            for channel in matrix.channels:
                cell = matrix.cells.get((info.row.key, channel))
                before = base[channel]
                if cell is None or _same(cell, before):
                    continue
                changed.append(
                    {
                        "row": info.row.key,
                        "channel": channel,
                        "before": before.status,
                        "after": cell.status,
                    }
                )
        total = len(matrix.rows) * len(matrix.channels)
        return {"base": self.label, "key": matrix.key, "total": total, "cells": changed}

    def cell(self, matrix: Matrix, row_key: str, channel: Channel) -> dict[str, Any] | None:
        """Before and after of one cell, with word-level highlights; ``None`` if unknown."""
        info = matrix.row(row_key)
        cell = matrix.cells.get((row_key, channel))
        if info is None or cell is None:
            return None
        before = self._base_cells(matrix, info.row)[channel]
        after = cell.output
        fields = {
            name: text_diff(str(before.output.get(name) or ""), str(after.get(name) or ""))
            for name in TEXT_FIELDS.get(channel, ())
            if before.output.get(name) != after.get(name)
        }
        html: dict[str, str] = {}
        if channel in ("email", "web"):
            old_html = str(before.output.get("html") or "")
            new_html = str(after.get("html") or "")
            if old_html or new_html:
                html["before"], html["after"] = highlight_pair(old_html, new_html)
        return {
            "base": self.label,
            "row": row_key,
            "channel": channel,
            "changed": not _same(cell, before),
            "before": {**before.output, "atoms": dict(before.atoms)},
            "after": {**after, "atoms": dict(cell.atoms)},
            "fields": fields,
            "html": html,
        }


def _base(cell: Cell | None, channel: Channel) -> BaseCell:
    if cell is None:
        return _absent(f"{channel} is not rendered at the base")
    return BaseCell(cell.output, cell.atoms)


def _same(cell: Cell, before: BaseCell) -> bool:
    return dict(cell.output) == dict(before.output) and dict(cell.atoms) == dict(before.atoms)


# -- word-level diffs ------------------------------------------------------------------------

_WORDS = re.compile(r"(\s+)")


def text_diff(before: str, after: str) -> list[dict[str, str]]:
    """``[{"op": "equal" | "insert" | "delete", "text": ...}]``, word by word."""
    old = _WORDS.split(before)
    new = _WORDS.split(after)
    parts: list[dict[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append({"op": "equal", "text": "".join(old[i1:i2])})
            continue
        if i2 > i1:
            parts.append({"op": "delete", "text": "".join(old[i1:i2])})
        if j2 > j1:
            parts.append({"op": "insert", "text": "".join(new[j1:j2])})
    return parts


_SKIPPED_TAGS = frozenset({"style", "script", "title", "head"})


class _Pieces(HTMLParser):
    """An HTML document as raw markup and visible text pieces, re-emitted verbatim."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.pieces: list[tuple[bool, str]] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.pieces.append((False, self.get_starttag_text() or ""))
        if tag in _SKIPPED_TAGS:
            self._hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.pieces.append((False, self.get_starttag_text() or ""))

    def handle_endtag(self, tag: str) -> None:
        self.pieces.append((False, f"</{tag}>"))
        if tag in _SKIPPED_TAGS and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        self.pieces.append((self._hidden == 0, data))

    def handle_entityref(self, name: str) -> None:
        self.pieces.append((False, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.pieces.append((False, f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self.pieces.append((False, f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.pieces.append((False, f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.pieces.append((False, f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.pieces.append((False, f"<![{data}]>"))


def _pieces(html: str) -> list[tuple[bool, str]]:
    parser = _Pieces()
    parser.feed(html)
    parser.close()
    if "".join(text for _, text in parser.pieces) != html:
        return [(False, html)]  # not re-emitted verbatim: shown unmarked rather than altered
    return parser.pieces


def _words(pieces: Sequence[tuple[bool, str]]) -> list[str]:
    return [w for visible, text in pieces if visible for w in text.split()]


def _mark(pieces: Sequence[tuple[bool, str]], marked: set[int], style: str) -> str:
    out: list[str] = []
    index = 0
    for visible, text in pieces:
        if not visible:
            out.append(text)
            continue
        for token in _WORDS.split(text):
            if not token or token.isspace():
                out.append(token)
                continue
            out.append(f'<mark style="{style}">{token}</mark>' if index in marked else token)
            index += 1
    return "".join(out)


def highlight_pair(before: str, after: str) -> tuple[str, str]:
    """Both documents with the words that differ marked: deleted in ``before``, inserted in
    ``after``. Markup is left exactly as it was; only visible text is wrapped."""
    old_pieces = _pieces(before)
    new_pieces = _pieces(after)
    old_words = _words(old_pieces)
    new_words = _words(new_pieces)
    deleted: set[int] = set()
    inserted: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            deleted.update(range(i1, i2))
            inserted.update(range(j1, j2))
    return _mark(old_pieces, deleted, DELETE_STYLE), _mark(new_pieces, inserted, INSERT_STYLE)


# -- HTTP --------------------------------------------------------------------------------------

MatrixOf = Callable[[str, str | None], tuple[Any, Matrix]]


def compare_routes(comparison: Callable[[], Comparison | None], matrix_of: MatrixOf) -> list[Route]:
    """``/api/compare`` (the marks) and ``/api/compare/cell`` (one before/after), 404 when
    the preview runs without ``--compare``."""
    import asyncio

    def _view(request: Request) -> tuple[Comparison, Matrix] | Response:
        found = comparison()
        if found is None:
            return JSONResponse(
                {"error": "the preview runs without a revision to compare with"}, status_code=404
            )
        campaign = str(request.query_params.get("campaign") or "")
        at = request.query_params.get("at") or None
        if not campaign:
            return JSONResponse({"error": "campaign is required"}, status_code=400)
        try:
            _, matrix = matrix_of(campaign, at)
        except (AtomcastError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return found, matrix

    async def marks(request: Request) -> Response:
        view = await asyncio.to_thread(_view, request)
        if isinstance(view, Response):
            return view
        found, matrix = view
        return JSONResponse(await asyncio.to_thread(found.marks, matrix))

    async def cell(request: Request) -> Response:
        view = await asyncio.to_thread(_view, request)
        if isinstance(view, Response):
            return view
        found, matrix = view
        channel = str(request.query_params.get("channel") or "")
        if channel not in matrix.channels:
            return JSONResponse({"error": "no such channel"}, status_code=404)
        row = str(request.query_params.get("row") or "")
        wanted = next(ch for ch in matrix.channels if ch == channel)
        data = await asyncio.to_thread(found.cell, matrix, row, wanted)
        if data is None:
            return JSONResponse({"error": "no such row"}, status_code=404)
        return JSONResponse(data)

    return [Route("/api/compare", marks), Route("/api/compare/cell", cell)]
