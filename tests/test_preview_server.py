"""The preview server without a browser: API endpoints, synthetic rows, dependency tracking,
the file-error overlay, path safety against the real server, and the static export."""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    # Starlette 1.x nudges towards the httpx2 package; httpx is what this project has.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from atomcast.preview.app import PreviewState, create_app, safe_file
from atomcast.preview.background import BackgroundServer
from atomcast.preview.export import export_site
from atomcast.preview.matrix import Matrix, build_matrix
from atomcast.preview.updates import plan_update
from atomcast.project import Project, load_project
from atomcast.project.watch import relevant_path
from atomcast.render import Renderer
from atomcast.review.synthetic import segment_profile, synthetic_profiles
from atomcast.selection import Selector

from .conftest import DEMO_AT, ROOT, add_demo_renditions, copy_project

# watchdog may warn from its own thread when a folder appears while it is being watched.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SUMMER = "summer-sale"
HEADLINE = "content_atoms/summer-sale/headlines/headline-vip-summer.md"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def state(demo_project: Path) -> PreviewState:
    return PreviewState(demo_project, default_at=DEMO_AT)


@pytest.fixture
def client(state: PreviewState) -> Iterator[TestClient]:
    with TestClient(create_app(state, watch=False), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reader(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, PreviewState, Path]]:
    """One app on an unedited demo copy, shared by the tests that only read and post forms
    (which never save): a PreviewState per test paid a project load and its renders."""
    root = copy_project(ROOT, tmp_path_factory.mktemp("preview") / "demo")
    state = PreviewState(root, default_at=DEMO_AT)
    with TestClient(create_app(state, watch=False), base_url="http://127.0.0.1") as test_client:
        yield test_client, state, root


def _matrix(project: Project, campaign: str = SUMMER) -> Matrix:
    return build_matrix(project, Renderer(project, assets_base_url="/assets/"), campaign, DEMO_AT)


# -- API -----------------------------------------------------------------------------------


def test_index_has_csp_and_no_inline_script(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    for tag in re.findall(r"<script\b[^>]*>", response.text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "Harbor &amp; Pine" in response.text  # autoescaped


def test_meta_lists_campaigns_schema_and_segments(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    meta = client.get("/api/meta").json()
    assert [c["name"] for c in meta["campaigns"]] == ["summer-sale", "cabin-season"]
    assert meta["default_at"] == DEMO_AT
    consent = next(a for a in meta["schema"] if a["name"] == "consent")
    assert {p["name"] for p in consent["properties"]} == {"email", "sms", "push", "web"}
    assert "vip" in meta["segments"]


def test_matrix_has_one_cell_per_row_and_channel(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, state, _ = reader
    data = client.get("/api/matrix", params={"campaign": SUMMER, "at": DEMO_AT}).json()
    rows = data["rows"]
    personas = state.snapshot.project.personas
    assert data["channels"] == ["email", "push", "sms", "web"]
    assert len(data["cells"]) == len(rows) * 4
    keys = [r["key"] for r in rows]
    assert keys[: len(personas)] == [f"persona:{name}" for name in sorted(personas)]
    assert {f"segment:{s.name}" for s in state.snapshot.project.segments} <= set(keys)
    assert {"experiment:headline-test:a", "experiment:headline-test:b"} <= set(keys)
    assert {(c["row"], c["channel"]) for c in data["cells"]} == {
        (k, ch) for k in keys for ch in data["channels"]
    }
    coverage = data["coverage"]
    assert coverage["total"] == len(data["cells"])
    assert coverage["rendered"] + coverage["skipped"] + coverage["failed"] == coverage["total"]
    report = coverage["report"]
    assert report["profiles"] == len(rows)
    skips = [r for ch in report["channels"].values() for r in ch["skipped"]]
    assert any(reason.startswith("no consent") for reason in skips)


def test_matrix_unknown_campaign_is_400(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    response = client.get("/api/matrix", params={"campaign": "nope"})
    assert response.status_code == 400
    assert "unknown campaign" in response.json()["error"]


def test_cabin_season_has_no_sms_column(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    data = client.get("/api/matrix", params={"campaign": "cabin-season", "at": DEMO_AT}).json()
    assert data["channels"] == ["email", "push", "web"]


def test_explain_for_a_row_names_failing_clauses(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    params = {"campaign": SUMMER, "at": DEMO_AT, "row": "persona:new-customer-no-name"}
    data = client.get("/api/explain", params=params).json()["explain"]
    headline = next(s for s in data["slots"] if s["slot"] == "headline")
    losers = [c for c in headline["candidates"] if not c["eligible"]]
    assert losers, "some headline must lose for a new customer"
    failing = [k for c in losers for k in c["checks"] if not k["passed"]]
    assert any(k["name"] == "segments" for k in failing)
    assert client.get("/api/explain", params={**params, "row": "nope"}).status_code == 404


def test_profile_form_renders_without_saving(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, demo_project = reader
    persona = demo_project / "previews/profiles/vip-margaret.yaml"
    before = persona.read_bytes()
    row = client.get("/api/matrix", params={"campaign": SUMMER, "at": DEMO_AT}).json()["rows"]
    raw = next(r for r in row if r["key"] == "persona:vip-margaret")["raw"]
    edited = {**raw, "consent": {**raw["consent"], "sms": False}, "first_name": "Grace"}
    body = {"campaign": SUMMER, "at": DEMO_AT, "row": "persona:vip-margaret", "profile": edited}
    data = client.post("/api/profile", json=body).json()
    cells = {c["channel"]: c for c in data["cells"]}
    assert cells["sms"]["status"] == "skipped"
    assert "Grace" in cells["email"]["output"]["html"]
    assert data["row"]["key"] == "persona:vip-margaret"
    assert data["row"]["edited"] is True
    assert persona.read_bytes() == before


def test_profile_form_reports_every_schema_error_by_field(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    profile = {"id": "x", "lifetime_value": "lots", "consent": {"sms": "yes"}, "orders_count": 1.5}
    response = client.post(
        "/api/profile", json={"campaign": SUMMER, "at": DEMO_AT, "profile": profile}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"lifetime_value", "consent.sms", "orders_count"}
    missing = client.post("/api/profile", json={"campaign": SUMMER, "profile": {"first_name": "A"}})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "id"
    malformed = client.post(
        "/api/profile", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


def test_explain_post_uses_the_edited_profile(
    reader: tuple[TestClient, PreviewState, Path],
) -> None:
    client, _, _ = reader
    profile = {"id": "p-x", "lifetime_value": 5000, "consent": {"email": True}}
    data = client.post(
        "/api/explain", json={"campaign": SUMMER, "at": DEMO_AT, "profile": profile}
    ).json()["explain"]
    assert data["profile_id"] == "p-x"
    assert any(s["segment"] == "vip" and s["member"] for s in data["segments"])


# -- synthetic rows ------------------------------------------------------------------------


def test_every_demo_segment_gets_a_verified_profile(demo_project: Path) -> None:
    project = load_project(demo_project)
    selector = Selector(project)
    for segment in project.segments:
        synthetic = segment_profile(project, segment.name, selector)
        assert not synthetic.approximate, segment.name
        assert segment.name in selector.segments_of(synthetic.profile)


def test_unsatisfiable_segment_is_marked_approximate(demo_project: Path) -> None:
    _edit(
        demo_project / "atomcast.yaml",
        "segments:                   # name -> condition (GrowthBook / MongoDB style)\n",
        "segments:\n  impossible:\n    $and: [{cart_total: {$gt: 10}}, {cart_total: {$lt: 5}}]\n",
    )
    project = load_project(demo_project)
    synthetic = segment_profile(project, "impossible")
    assert synthetic.approximate
    assert "approximate" in synthetic.note


def test_experiment_rows_hash_into_their_arm(demo_project: Path) -> None:
    project = load_project(demo_project)
    selector = Selector(project)
    rows = [s for s in synthetic_profiles(project, SUMMER, selector) if s.kind == "experiment"]
    plan = selector.plan(SUMMER, selector_instant())
    experiment = plan.experiments[0]
    assert {s.key for s in rows} == {
        f"experiment:headline-test:{arm}" for arm in ("a", "b", "holdout")
    }
    for synthetic in rows:
        arm = synthetic.key.rsplit(":", 1)[1]
        assert synthetic.profile.id.startswith("synthetic-headline-test-")
        assert experiment.assign(synthetic.profile.id, SUMMER) == arm


def selector_instant() -> Any:
    from atomcast.selection import parse_instant

    return parse_instant(DEMO_AT)


# -- dependency tracking ---------------------------------------------------------------------


def test_atom_text_change_rerenders_only_cells_that_used_it(demo_project: Path) -> None:
    old = load_project(demo_project)
    matrix = _matrix(old)
    _edit(demo_project / HEADLINE, "VIP summer", "VIP summer, really")
    update = plan_update(old, load_project(demo_project), [HEADLINE], matrix)
    assert not update.rebuild
    users = {
        (row, ch)
        for (row, ch), cell in matrix.cells.items()
        if "headline-vip-summer" in cell.used_atoms()
    }
    assert users
    assert {(row, ch) for row, chs in update.targets.items() for ch in chs} == users


def test_atom_priority_change_rerenders_campaigns_taking_its_kind(demo_project: Path) -> None:
    old = load_project(demo_project)
    matrix = _matrix(old)
    _edit(demo_project / HEADLINE, "priority:", "priority: 1\nxpriority_was:")
    text = (demo_project / HEADLINE).read_text()
    (demo_project / HEADLINE).write_text(re.sub(r"\nxpriority_was:.*", "", text))
    update = plan_update(old, load_project(demo_project), [HEADLINE], matrix)
    assert update.cell_count == len(matrix.cells)


def test_layout_change_rerenders_only_its_channel(demo_project: Path) -> None:
    old = load_project(demo_project)
    summer, cabin = _matrix(old), _matrix(old, "cabin-season")
    layout = demo_project / "layouts/sms/promo.txt"
    layout.write_text(layout.read_text() + "\n", encoding="utf-8")
    new = load_project(demo_project)
    update = plan_update(old, new, ["layouts/sms/promo.txt"], summer)
    assert {ch for chs in update.targets.values() for ch in chs} == {"sms"}
    assert len(update.targets) == len(summer.rows)
    assert plan_update(old, new, ["layouts/sms/promo.txt"], cabin).targets == {}


def test_persona_change_rerenders_only_its_row(demo_project: Path) -> None:
    old = load_project(demo_project)
    matrix = _matrix(old)
    persona = "previews/profiles/outdoors-sam.yaml"
    _edit(demo_project / persona, "first_name:", "first_name: Samuel\n_was:")
    update = plan_update(old, load_project(demo_project), [persona], matrix)
    assert set(update.targets) == {"persona:outdoors-sam"}
    assert update.targets["persona:outdoors-sam"] == matrix.channels


def test_config_change_and_new_persona_rebuild(demo_project: Path) -> None:
    old = load_project(demo_project)
    matrix = _matrix(old)
    assert plan_update(old, old, ["atomcast.yaml"], matrix).rebuild
    new_persona = demo_project / "previews/profiles/zz-new.yaml"
    new_persona.write_text("id: p-999\nconsent: {email: true}\n", encoding="utf-8")
    update = plan_update(old, load_project(demo_project), ["previews/profiles/zz-new.yaml"], matrix)
    assert update.rebuild


def test_relevant_path_ignores_cache_and_editor_files(tmp_path: Path) -> None:
    assert relevant_path(tmp_path, str(tmp_path / "atomcast.yaml")) == "atomcast.yaml"
    assert relevant_path(tmp_path, str(tmp_path / "content_atoms/a/b.md")) == "content_atoms/a/b.md"
    assert relevant_path(tmp_path, str(tmp_path / ".atomcast-cache/assets/x.png")) is None
    assert relevant_path(tmp_path, str(tmp_path / "content_atoms/.b.md.swp")) is None
    assert relevant_path(tmp_path, str(tmp_path / "README.md")) is None
    assert relevant_path(tmp_path, "/etc/passwd") is None


def test_apply_changes_patches_cells_and_recovers_from_errors(
    client: TestClient, state: PreviewState, demo_project: Path
) -> None:
    client.get("/api/matrix", params={"campaign": SUMMER, "at": DEMO_AT})
    generation = state.snapshot.generation
    _edit(demo_project / HEADLINE, "VIP summer", "VIP summer, live")
    messages = state.apply_changes([HEADLINE])
    events = [m.split("\n", 1)[0] for m in messages]
    assert "event: cell" in events
    assert events[-1] == "event: done"
    cells = [json.loads(m.split("data: ", 1)[1]) for m in messages if m.startswith("event: cell")]
    assert all("headline-vip-summer" in c["cell"]["atoms"].values() for c in cells)
    assert any("VIP summer, live" in json.dumps(c["cell"]["output"]) for c in cells)

    # Break the atom: the last good state stays, the problem names PATH:LINE.
    _edit(demo_project / HEADLINE, "kind: headline", "kind: headlin")
    messages = state.apply_changes([HEADLINE])
    assert len(messages) == 1
    assert messages[0].startswith("event: problems")
    problem = json.loads(messages[0].split("data: ", 1)[1])["problems"][0]
    assert problem["path"] == HEADLINE
    assert problem["line"] >= 1
    assert state.snapshot.generation == generation + 1
    data = client.get("/api/matrix", params={"campaign": SUMMER, "at": DEMO_AT}).json()
    assert data["problems"]
    assert data["problems"][0]["path"] == HEADLINE

    _edit(demo_project / HEADLINE, "kind: headlin", "kind: headline")
    messages = state.apply_changes([HEADLINE])
    assert messages[0] == 'event: problems\ndata: {"problems":[]}\n\n'
    assert state.problems == []
    assert state.snapshot.generation == generation + 2


# -- path safety -----------------------------------------------------------------------------


def test_safe_file_refuses_everything_outside(tmp_path: Path) -> None:
    base = tmp_path / "static"
    base.mkdir()
    (base / "app.js").write_text("ok")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", base / "link.txt")
    assert safe_file(base, "app.js") == (base / "app.js").resolve()
    for bad in (
        "../secret.txt",
        "./app.js",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "/etc/passwd",
        "..\\secret.txt",
        "link.txt",
        "",
        "a//b",
        "C:/windows",
        "app.js\x00.png",
    ):
        assert safe_file(base, bad) is None, bad


TRAVERSALS = (
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static/..%2f..%2f..%2fetc/passwd",
    "/static/..%5c..%5c..%5cetc/passwd",
    "/static/..\\..\\..\\etc\\passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/assets/../atomcast.yaml",
    "/assets/%2e%2e/%2e%2e/atomcast.yaml",
    "/assets/outside-link.txt",
    "/static/../preview/app.py",
)


def test_path_traversal_is_404_on_the_real_server(demo_project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("TOP SECRET")
    with BackgroundServer(demo_project, default_at=DEMO_AT) as server:
        assets = server.state.assets_dir
        assets.mkdir(parents=True, exist_ok=True)
        os.symlink(secret, assets / "outside-link.txt")
        with httpx.Client(base_url=server.url.rstrip("/")) as client:
            assert client.get("/static/app.js").status_code == 200
            for path in TRAVERSALS:
                # httpx would normalise "..": send the raw target as written.
                request = client.build_request("GET", "/")
                request.url = request.url.copy_with(raw_path=path.encode())
                response = client.send(request)
                assert response.status_code == 404, path
                assert "TOP SECRET" not in response.text
                assert "root:" not in response.text
        # http.client sends the request target exactly as given, backslashes included.
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        for path in TRAVERSALS:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 404, path
            assert b"TOP SECRET" not in body
        connection.close()


def test_sse_delivers_the_edited_cell_after_a_save(demo_project: Path) -> None:
    with BackgroundServer(demo_project, default_at=DEMO_AT) as server:
        httpx.get(server.url + "api/matrix", params={"campaign": SUMMER, "at": DEMO_AT})
        received: list[dict[str, Any]] = []
        ready = threading.Event()

        def listen() -> None:
            with httpx.stream("GET", server.url + "events", timeout=10) as stream:
                event = ""
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                        ready.set()
                    elif line.startswith("data: ") and event == "cell":
                        received.append(json.loads(line[6:]))
                        return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert ready.wait(5)
        _edit(demo_project / HEADLINE, "VIP summer", "VIP summer (SSE)")
        thread.join(10)
        # Latency is measured by benchmarks/preview.py; a test only proves the cell arrives.
        assert received, "no cell event arrived"
        assert "VIP summer (SSE)" in json.dumps(received[0])


# -- static export ------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_writes_a_static_site_with_embedded_explains(
    demo_project: Path, tmp_path: Path
) -> None:
    persona = demo_project / "previews/profiles/outdoors-sam.yaml"
    text = re.sub(r"(?m)^_description:.*$", "", persona.read_text(encoding="utf-8"))
    hostile = "_description: \"</script><script>alert('x')</script>\"\n"
    persona.write_text(hostile + text, encoding="utf-8")
    out = tmp_path / "site"
    result = export_site(demo_project, out, at=DEMO_AT)
    assert (out / "index.html").is_file()
    assert (out / "static/app.js").is_file()
    assert (out / "static/app.css").is_file()
    assert {p.parent.name for p in result.pages} == {"summer-sale", "cabin-season"}
    page = (out / "summer-sale/index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert 'src="../static/app.js"' in page
    assert "Content-Security-Policy" in page
    payload = re.search(
        r'<script type="application/json" id="atomcast-data">(.*?)</script>', page, re.S
    )
    assert payload is not None
    boot = json.loads(payload.group(1))
    rows = [r["key"] for r in boot["matrix"]["rows"]]
    assert set(boot["explains"]) == set(rows)
    assert len(boot["matrix"]["cells"]) == len(rows) * 4
    # Renditions are copied next to the pages and referenced relatively.
    html = json.dumps(boot["matrix"]["cells"])
    assert "../assets/" in html
    assert any((out / "assets").rglob("*.*"))


def test_preview_push_keeps_its_image_and_shows_it_from_the_preview(tmp_path: Path) -> None:
    """Renders use an https stand-in base URL, as real sends do, so push keeps its image;
    cells show the preview's own copy."""
    from atomcast.preview.matrix import PREVIEW_ASSETS_URL, PreviewRenderer

    project = load_project(ROOT)
    assets = add_demo_renditions(tmp_path / "assets")
    renderer = PreviewRenderer(project, assets_dir=assets, display_prefix="/assets/")
    matrix = build_matrix(project, renderer, "summer-sale", DEMO_AT)
    pushes = [cell.output for (_, channel), cell in matrix.cells.items() if channel == "push"]
    rendered = [data for data in pushes if data["status"] == "rendered"]
    assert rendered
    for data in rendered:
        assert not [w for w in data["warnings"] if w["code"] == "unsafe_url"]
        image = data["fcm"]["message"]["notification"].get("image", "")
        assert image.startswith("/assets/"), image
    assert PREVIEW_ASSETS_URL not in json.dumps([c.output for c in matrix.cells.values()])
