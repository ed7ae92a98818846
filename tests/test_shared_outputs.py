"""Records that share memoised channel outputs (``share_outputs``, what the batch asks for)
stay what the plain renderer makes, whatever order profiles come in, and a record handed
to a caller shares nothing with later ones."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from atomcast.batch.worker import JobRenderer, RenderedRecord
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.schema import validate_profile
from tests.conftest import ROOT, population

sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_profiles import pantry_profile

PANTRY = ROOT / "benchmarks" / "content" / "pantry"
AT = "2026-03-10T12:00:00Z"


def _profiles(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [pantry_profile(rng, index) for index in range(count)]


def test_shared_outputs_are_never_changed_by_later_records(tmp_path: Path) -> None:
    project = load_project(PANTRY)
    renderer = Renderer(project, assets_dir=tmp_path)
    shared = renderer.campaign("weekly-box", at=AT, share_outputs=True)
    plain = renderer.campaign("weekly-box", at=AT, memoise=False)
    profiles = [validate_profile(project.schema, raw) for raw in _profiles(population(300), 3)]
    first = [shared.render(profile) for profile in profiles]
    # Taken after every profile rendered: a shared output changed by a later record (a
    # channel's own atoms set on it, say) would show here.
    seen = [json.dumps(result.to_json(), sort_keys=True) for result in first]
    again = [shared.render(profile) for profile in reversed(profiles)][::-1]
    expected = [json.dumps(plain.render(p).to_json(), sort_keys=True) for p in profiles]
    assert seen == expected
    assert [json.dumps(r.to_json(), sort_keys=True) for r in again] == expected
    assert any(o.shared for r in first for o in r.channels.values())  # the path did run


def test_a_record_handed_to_the_caller_shares_no_output() -> None:
    job = JobRenderer(PANTRY, "weekly-box", at=AT)
    outcomes = [job.render(raw) for raw in _profiles(population(200), 4)]
    records = [o for o in outcomes if isinstance(o, RenderedRecord)]
    assert records
    for record in records:
        assert not any(output.shared for output in record.result.channels.values())
    # Changing one caller's record leaves the next records alone.
    for record in records:
        for output in record.result.channels.values():
            output.warnings.append(output.warnings[0] if output.warnings else None)  # type: ignore[arg-type]
            output.atoms["tampered"] = "yes"
    for raw, record in zip(_profiles(population(200), 4), outcomes, strict=True):
        again = job.render(raw)
        assert isinstance(again, RenderedRecord)
        assert isinstance(record, RenderedRecord)
        assert again.json_line == record.json_line


def test_chunk_stats_leave_the_loop_without_the_decisions_they_counted_by() -> None:
    """Stats count a shared decision by its identity inside the loop only: what travels to
    the parent holds no decision objects (a tie-heavy chunk would ship thousands)."""
    import io

    from atomcast.batch.formats import RenderedSink
    from atomcast.batch.stats import ChunkStats
    from atomcast.batch.worker import RejectSink

    job = JobRenderer(PANTRY, "weekly-box", at=AT)
    items = list(enumerate(_profiles(population(200), 5), start=1))
    stats = ChunkStats()
    job.render_items(items, RenderedSink(io.BytesIO()), RejectSink(io.BytesIO(), job.encode), stats)
    assert stats.rendered == len(items)
    assert stats.known_decisions == {}
    assert sum(stats.combinations.values()) == len(items)
