"""The preview matrix: rows (personas and synthetic profiles) x the campaign's channels.

Everything here is plain data built from the real renderer, so what the preview shows is
exactly what ``atomcast render`` would produce. The server and the static export both
serialise a :class:`Matrix` with :meth:`Matrix.to_json`; the browser builds the DOM from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from atomcast.channels.base import ChannelOutput
from atomcast.channels.registry import CHANNEL_ORDER
from atomcast.errors import LimitError
from atomcast.explain import explain
from atomcast.models import Channel
from atomcast.preview.sensitive import mask_explain, mask_raw
from atomcast.project import Project
from atomcast.render import CampaignRenderer, Renderer, RenderResult
from atomcast.review.coverage import CoverageCounter, CoverageReport
from atomcast.review.synthetic import synthetic_profiles
from atomcast.schema import Profile
from atomcast.selection import Selection, parse_instant

RowKind = Literal["persona", "segment", "experiment", "custom"]


def instant_key(at: dt.datetime) -> str:
    """The canonical text of an instant: ``2026-07-15T12:00:00Z``."""
    return at.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Row:
    """One profile of the matrix.

    :param key: stable across reloads (``persona:vip-maya``, ``segment:vip``,
        ``experiment:headline-test:a``), so live updates can find the row in the page.
    :param raw: the attributes as the page shows them: sensitive ones masked
        (:func:`~atomcast.preview.sensitive.mask_raw`); ``profile`` holds the real values.
    :param path: the persona file, for personas.
    :param approximate: a synthetic profile that could not be verified to be what it claims.
    """

    key: str
    label: str
    kind: RowKind
    description: str
    raw: Mapping[str, Any]
    profile: Profile
    path: str | None = None
    approximate: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class Cell:
    """One rendered combination: a row in one channel.

    :param output: the channel's SPEC section 5 record (``status``, ``html``, ``warnings``...).
    :param atoms: slot -> atom id this channel actually used (dependency tracking and the
        coverage strip both need it).
    :param layout: the layout name the channel used, when the campaign has the channel.
    """

    row: str
    channel: Channel
    output: Mapping[str, Any]
    atoms: Mapping[str, str | None]
    layout: str | None

    @property
    def status(self) -> str:
        return str(self.output.get("status", "error"))

    @property
    def reason(self) -> str | None:
        reason = self.output.get("reason")
        return str(reason) if reason is not None else None

    def used_atoms(self) -> frozenset[str]:
        return frozenset(a for a in self.atoms.values() if a)

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "channel": self.channel,
            "status": self.status,
            "reason": self.reason,
            "warnings": list(self.output.get("warnings", ())),
            "atoms": dict(self.atoms),
            "layout": self.layout,
            "output": dict(self.output),
        }


@dataclass(frozen=True, slots=True)
class RowResult:
    """What one render decided for a row, shared by all its cells."""

    row: Row
    segments: tuple[str, ...]
    experiments: Mapping[str, str]
    decisions: Mapping[str, str | None]
    #: what was decided for the row, for the coverage strip (not part of the row's JSON);
    #: None when the row ran out of time while deciding
    selection: Selection | None

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "key": row.key,
            "label": row.label,
            "kind": row.kind,
            "description": row.description,
            "path": row.path,
            "approximate": row.approximate,
            "note": row.note,
            "profile_id": row.profile.id,
            "locale": row.profile.attributes.get("locale"),
            "raw": _plain(row.raw),
            "segments": list(self.segments),
            "experiments": dict(self.experiments),
            "decisions": dict(self.decisions),
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    """The coverage strip of one campaign: the cell totals, and the SPEC section 7 report of
    the matrix's rows (what ``atomcast coverage`` prints for the same profiles)."""

    report: CoverageReport

    @property
    def rendered(self) -> int:
        return sum(ch.rendered for ch in self.report.channels.values())

    @property
    def skipped(self) -> int:
        return sum(ch.skipped.total() for ch in self.report.channels.values())

    @property
    def failed(self) -> int:
        return sum(ch.error.total() for ch in self.report.channels.values())

    @property
    def total(self) -> int:
        return self.rendered + self.skipped + self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "rendered": self.rendered,
            "skipped": self.skipped,
            "failed": self.failed,
            "report": self.report.to_json(),
        }


@dataclass(slots=True)
class Matrix:
    """Every row x channel of one campaign at one instant."""

    campaign: str
    at: dt.datetime
    channels: tuple[Channel, ...]
    rows: list[RowResult] = field(default_factory=list)
    cells: dict[tuple[str, Channel], Cell] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return matrix_key(self.campaign, self.at)

    def row(self, key: str) -> RowResult | None:
        return next((r for r in self.rows if r.row.key == key), None)

    def coverage(self, project: Project) -> Coverage:
        """Count the rows as decided and the cells as rendered: nothing is rendered again.

        :raises UnknownCampaignError: when ``project`` no longer declares the campaign.
        """
        counter = CoverageCounter(project, self.campaign, self.at)
        for result in self.rows:
            key = result.row.key
            cells: dict[str, Cell] = {
                ch: self.cells[(key, ch)] for ch in self.channels if (key, ch) in self.cells
            }
            if result.selection is None:
                counter.reject()  # out of time while deciding: a batch rejects it too
            else:
                counter.add(result.row.profile, result.selection, cells)
        return Coverage(counter.report())

    def to_json(self, project: Project) -> dict[str, Any]:
        return {
            "key": self.key,
            "campaign": self.campaign,
            "at": instant_key(self.at),
            "channels": list(self.channels),
            "rows": [r.to_json() for r in self.rows],
            "cells": [
                self.cells[(r.row.key, ch)].to_json() for r in self.rows for ch in self.channels
            ],
            "coverage": self.coverage(project).to_json(),
        }


def matrix_key(campaign: str, at: dt.datetime) -> str:
    return f"{campaign}@{instant_key(at)}"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def persona_rows(project: Project) -> list[Row]:
    """The personas of ``previews/profiles``, in file-name order."""
    return [
        Row(
            key=f"persona:{persona.name}",
            label=persona.name,
            kind="persona",
            description=persona.description,
            raw=mask_raw(project.schema, persona.raw),
            profile=persona.profile,
            path=persona.path,
        )
        for persona in sorted(project.personas.values(), key=lambda p: p.name)
    ]


def build_rows(project: Project, renderer: Renderer, campaign: str) -> list[Row]:
    """Personas, then one synthetic row per segment and per experiment arm."""
    rows = persona_rows(project)
    for synthetic in synthetic_profiles(project, campaign, renderer.selector):
        rows.append(
            Row(
                key=synthetic.key,
                label=synthetic.label,
                kind="segment" if synthetic.kind == "segment" else "experiment",
                description=synthetic.note,
                raw=mask_raw(project.schema, synthetic.raw),
                profile=synthetic.profile,
                approximate=synthetic.approximate,
                note=synthetic.note,
            )
        )
    return rows


#: The assets base URL of preview renders: https, so that push keeps its images as a real
#: send would (a relative URL is an ``unsafe_url`` there). Cells show the preview's own copies.
PREVIEW_ASSETS_URL = "https://assets.preview.atomcast.invalid/"


class PreviewRenderer(Renderer):
    """A renderer whose image URLs are shown from ``display_prefix`` (the preview server's
    ``/assets/`` route, or an export's ``../assets/`` folder)."""

    def __init__(self, project: Project, *, assets_dir: Path | None, display_prefix: str) -> None:
        super().__init__(project, assets_dir=assets_dir, assets_base_url=PREVIEW_ASSETS_URL)
        self.display_prefix = display_prefix


def _displayed(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return value.replace(PREVIEW_ASSETS_URL, prefix)
    if isinstance(value, dict):
        return {key: _displayed(item, prefix) for key, item in value.items()}
    if isinstance(value, list):
        return [_displayed(item, prefix) for item in value]
    return value


def _cells_of(
    result: RenderResult, row_key: str, renderer: CampaignRenderer
) -> dict[Channel, Cell]:
    cells: dict[Channel, Cell] = {}
    shown_from = getattr(renderer.renderer, "display_prefix", None)
    for channel, output in result.channels.items():
        ch: Channel = channel  # type: ignore[assignment]
        data = output.to_json()
        if shown_from is not None:
            data = _displayed(data, shown_from)
        atoms: Mapping[str, str | None] = output.atoms or (
            dict(result.decisions) if output.status != "skipped" else {}
        )
        config = renderer.config.channels.get(ch)
        cells[ch] = Cell(row_key, ch, data, dict(atoms), config.layout if config else None)
    return cells


def render_row(
    renderer: CampaignRenderer, row: Row, channels: Iterable[Channel] | None = None
) -> tuple[RowResult, dict[Channel, Cell]]:
    """Render one row; ``channels`` restricts which cells are kept (the rest are dropped).

    A row that runs past a bound of ``limits:`` while its atoms are chosen (a ``$regex``
    timing out on a typed value) shows error cells with the reason, as a batch rejects that
    one record: the other rows of the matrix still render.
    """
    selection: Selection | None
    try:
        selection, result = renderer.render_with_selection(row.profile)
    except LimitError as exc:
        selection = None
        result = RenderResult(
            row.profile.id,
            renderer.name,
            (),
            {},
            {},
            {ch: ChannelOutput("error", reason=str(exc)) for ch in renderer.channels},
        )
    cells = _cells_of(result, row.key, renderer)
    if channels is not None:
        wanted = set(channels)
        cells = {ch: cell for ch, cell in cells.items() if ch in wanted}
    info = RowResult(
        row, tuple(result.segments), dict(result.experiments), dict(result.decisions), selection
    )
    return info, cells


def campaign_channels(project: Project, campaign: str) -> tuple[Channel, ...]:
    config = project.config.campaigns[campaign]
    return tuple(ch for ch in CHANNEL_ORDER if ch in config.channels)


def build_matrix(
    project: Project, renderer: Renderer, campaign: str, at: dt.datetime | str | None
) -> Matrix:
    """Render every row x channel of ``campaign`` at ``at``.

    :raises UnknownCampaignError: for a campaign not in ``atomcast.yaml``.
    """
    instant = parse_instant(at)
    campaign_renderer = renderer.campaign(campaign, at=instant)
    channels = campaign_channels(project, campaign)
    matrix = Matrix(campaign, instant, channels)
    for row in build_rows(project, renderer, campaign):
        info, cells = render_row(campaign_renderer, row)
        matrix.rows.append(info)
        for channel in channels:
            matrix.cells[(row.key, channel)] = cells[channel]
    return matrix


def rerender(
    matrix: Matrix,
    project: Project,
    renderer: Renderer,
    targets: Mapping[str, Sequence[Channel]],
) -> tuple[list[RowResult], list[Cell]]:
    """Re-render the given row -> channels of ``matrix`` in place with a new project.

    Rows are rebuilt from the new project (a persona's attributes may have changed); a row
    that no longer exists is left alone (the caller rebuilds the whole matrix for that).

    :returns: the rows whose header changed (segments, decisions, attributes) and the cells
        whose output actually changed.
    """
    campaign_renderer = renderer.campaign(matrix.campaign, at=matrix.at)
    fresh = {row.key: row for row in build_rows(project, renderer, matrix.campaign)}
    changed: list[Cell] = []
    changed_rows: list[RowResult] = []
    for index, current in enumerate(matrix.rows):
        key = current.row.key
        channels = targets.get(key)
        if not channels or key not in fresh:
            continue
        info, cells = render_row(campaign_renderer, fresh[key], channels)
        matrix.rows[index] = info
        if info.to_json() != current.to_json():
            changed_rows.append(info)
        for channel, cell in cells.items():
            old = matrix.cells.get((key, channel))
            matrix.cells[(key, channel)] = cell
            if old is None or old.output != cell.output or old.atoms != cell.atoms:
                changed.append(cell)
    return changed_rows, changed


def explain_json(
    project: Project, renderer: Renderer, campaign: str, at: dt.datetime, profile: Profile
) -> dict[str, Any]:
    """The explain view of one profile: :func:`atomcast.explain.explain` as JSON, with the
    profile's sensitive values masked."""
    data = explain(project, profile, campaign, at, renderer.selector).to_json()
    masked: dict[str, Any] = mask_explain(project.schema, data)
    return masked
