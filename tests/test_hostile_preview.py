"""Attacks the preview server and its static export withstand (issue 9, items 11-13 and 15).

Every attack runs against a real uvicorn server (or a real ``atomcast preview`` process)
over real sockets; the project is the demo with sensitive attributes used in rules, so a
leak would show. Read the test names as the list:

- DNS rebinding: a foreign ``Host`` gets 400 on every route; loopback and ``--host`` pass.
- Cross-site requests: a POST from another origin is 403, a non-JSON body 415.
- Sensitive attributes: no persona's sensitive value appears in any response of any
  endpoint, in the event stream or in an export; the form round-trips a masked value.
- Files outside the project: traversal in URLs, symlinked personas, atoms, layouts,
  stylesheets and configuration, an ``assets.dir`` outside, hostile campaign names and
  symlinks inside the export folder; nothing outside is read, served or written.
- Hostile request bodies: oversized, deeply nested, lone surrogates, huge or non-finite
  numbers, out-of-range datetimes, non-objects: always 4xx, never 500 (a property test).
- A busy port: one ``error:`` line and exit status 1.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.errors import ExportError, ProjectError
from atomcast.http.bodies import MAX_BODY_BYTES
from atomcast.paths import export_segment
from atomcast.preview.app import PreviewState
from atomcast.preview.background import BackgroundServer, free_port
from atomcast.preview.export import export_site
from atomcast.preview.sensitive import MASK

from .conftest import DEMO_AT, ROOT, copy_project, examples, first_fast, run_cli

# watchdog may warn from its own thread when a folder appears while it is being watched.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SUMMER = "summer-sale"
RUTH = "persona:medical-notes-ruth"
SVEN = "persona:secret-sven"
NESTED_SECRET = "NESTED-SECRET-7781"
SVEN_SECRET = "SVEN-SECRET-DIAGNOSIS-4410"
#: Fragments of the demo persona's notes that no authored file contains.
SECRETS = ("Latex allergy", "knee surgery", "half a size up", NESTED_SECRET, SVEN_SECRET)
ALLOWED_HOST = "preview.test"


def make_sensitive_project(target: Path) -> Path:
    """The demo, plus a nested sensitive attribute, a segment and an atom rule on sensitive
    attributes (so explain traces carry their values), and a second secret-holding persona."""
    root = copy_project(ROOT, target)
    config = root / "atomcast.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        "segments:                   # name -> condition",
        "  health:\n"
        "    type: object\n"
        "    properties:\n"
        "      condition: {type: string, sensitive: true}\n"
        "      checked: {type: boolean}\n"
        "\n"
        "segments:                   # name -> condition",
        1,
    )
    text = text.replace(
        "  near_store:",
        "  notes_on_file:\n    medical_notes: {$regex: allergy}\n  near_store:",
        1,
    )
    config.write_text(text, encoding="utf-8")
    ruth = root / "previews/profiles/medical-notes-ruth.yaml"
    ruth.write_text(
        ruth.read_text(encoding="utf-8") + f"health:\n  condition: {NESTED_SECRET}\n",
        encoding="utf-8",
    )
    (root / "previews/profiles/secret-sven.yaml").write_text(
        "_description: a second persona with a sensitive value\n"
        "id: p-sven\nfirst_name: Sven\nlocale: en-US\nlifetime_value: 40\n"
        f"medical_notes: {SVEN_SECRET}\n"
        "health: {condition: none, checked: true}\n"
        "consent: {email: true, sms: true, push: true, web: true}\n",
        encoding="utf-8",
    )
    (root / "content_atoms/shared/snippets/snippet-fitting-notes.md").write_text(
        "---\nkind: snippet\ntags: [loyalty, evergreen]\npriority: 3\n"
        "when: {$or: [{medical_notes: {$exists: true}}, {health.condition: {$exists: true}}]}\n"
        'text: "Your fitting notes are on file for your next visit."\n---\n',
        encoding="utf-8",
    )
    return root


def assert_no_secret(body: bytes | str, where: str) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sensitive_project(tmp_path_factory.mktemp("hostile") / "demo")


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(project, default_at=DEMO_AT, allow_host=ALLOWED_HOST) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url.rstrip("/"), timeout=30) as http:
        yield http


def raw_request(
    port: int,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes | None = None,
) -> tuple[int, bytes]:
    """One request with exactly these headers (no Host added), the target sent as given."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_json(client: httpx.Client, path: str, body: Any, **headers: str) -> httpx.Response:
    return client.post(
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )


def rows(client: httpx.Client, campaign: str = SUMMER) -> dict[str, dict[str, Any]]:
    response = client.get("/api/matrix", params={"campaign": campaign, "at": DEMO_AT})
    assert response.status_code == 200, response.text
    return {row["key"]: row for row in response.json()["rows"]}


# -- item 11: DNS rebinding -------------------------------------------------------------------

FOREIGN_HOSTS = (
    "evil.example",
    "evil.example:8000",
    "127.0.0.1.nip.io",
    "localhost.evil.example",
    "evil.localhost",
    "127.1",
    "0x7f.0.0.1",
    "2130706433",
    "127.000.000.001",
    "[::2]",
    "[fe80::1%25lo]",
    "10.0.0.1",
    "0.0.0.0",
    "127.0.0.1:80:80",
    "127.0.0.1:port",
    "[::1",
    "localhost@evil.example",
    "",
)


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize("path", ["/", "/api/matrix", "/api/meta", "/events", "/static/app.js"])
def test_dns_rebinding_foreign_host_gets_400(
    server: BackgroundServer, host: str, path: str
) -> None:
    status, body = raw_request(server.port, "GET", path, [("Host", host)])
    assert status == 400
    assert_no_secret(body, f"{path} with Host {host!r}")
    assert b"summer-sale" not in body


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:{port}",
        "localhost",
        "LocalHost:{port}",
        "127.8.9.10:{port}",
        "[::1]:{port}",
        "[::1]",
        "[::ffff:127.0.0.1]:{port}",
        f"{ALLOWED_HOST}:{{port}}",
        ALLOWED_HOST.upper(),
    ],
)
def test_loopback_and_dash_dash_host_names_are_served(server: BackgroundServer, host: str) -> None:
    status, _ = raw_request(
        server.port, "GET", "/api/health", [("Host", host.format(port=server.port))]
    )
    assert status == 200


def test_missing_or_repeated_host_header_gets_400(server: BackgroundServer) -> None:
    repeated = [("Host", "127.0.0.1"), ("Host", "evil.example")]
    assert raw_request(server.port, "GET", "/api/meta", repeated)[0] == 400
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection._http_vsn_str = "HTTP/1.0"  # HTTP/1.0 may omit Host; we still refuse
    connection.putrequest("GET", "/api/meta", skip_host=True)
    connection.endheaders()
    assert connection.getresponse().status == 400
    connection.close()


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",
        "http://localhost:1",
        "http://127.0.0.1:{port}.evil.example",
        "https://evil.example:{port}",
        "file://",
    ],
)
def test_cross_origin_post_gets_403(
    client: httpx.Client, server: BackgroundServer, origin: str
) -> None:
    body = {"campaign": SUMMER, "at": DEMO_AT, "profile": {"id": "p-x"}}
    for path in ("/api/profile", "/api/explain"):
        response = post_json(client, path, body, Origin=origin.format(port=server.port))
        assert response.status_code == 403, (path, origin)


def test_same_origin_and_originless_posts_are_served(
    client: httpx.Client, server: BackgroundServer
) -> None:
    body = {"campaign": SUMMER, "at": DEMO_AT, "profile": {"id": "p-x"}}
    assert post_json(client, "/api/profile", body).status_code == 200
    same = f"http://127.0.0.1:{server.port}"
    assert post_json(client, "/api/profile", body, Origin=same).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonp",
        "text/json",
    ],
)
def test_form_posts_and_other_content_types_get_415(
    client: httpx.Client, content_type: str | None
) -> None:
    body = json.dumps({"campaign": SUMMER, "profile": {"id": "p-x"}}).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/api/profile", "/api/explain"):
        assert client.post(path, content=body, headers=headers).status_code == 415


# -- item 11: sensitive attributes -----------------------------------------------------------


def _sse_until(server: BackgroundServer, stop: str, edit: Path, seconds: float = 10) -> str:
    """The event stream from its start until event ``stop``, with ``edit`` saved once the
    stream is open."""
    received: list[str] = []
    ready = threading.Event()
    done = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", server.url + "events", timeout=seconds) as stream:
            for line in stream.iter_lines():
                received.append(line)
                ready.set()
                if line == f"event: {stop}":
                    done.set()
                if done.is_set() and line.startswith("data: "):
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(seconds)
    text = edit.read_text(encoding="utf-8")
    edit.write_text(text.replace("first_name: Ruth", "first_name: Ruthie"), encoding="utf-8")
    thread.join(seconds)
    assert done.is_set(), "\n".join(received[-5:])
    return "\n".join(received)


def test_no_sensitive_value_in_any_response_of_any_endpoint(
    client: httpx.Client, server: BackgroundServer, project: Path
) -> None:
    bodies: dict[str, bytes] = {}
    for path in ("/", "/api/meta", "/api/health", "/static/app.js"):
        response = client.get(path)
        assert response.status_code == 200
        bodies[path] = response.content
    campaigns = [c["name"] for c in client.get("/api/meta").json()["campaigns"]]
    masked_seen = 0
    for campaign in campaigns:
        matrix = client.get("/api/matrix", params={"campaign": campaign, "at": DEMO_AT})
        bodies[f"matrix {campaign}"] = matrix.content
        for row in matrix.json()["rows"]:
            base = {"campaign": campaign, "at": DEMO_AT, "row": row["key"]}
            explain = client.get("/api/explain", params=base)
            assert explain.status_code == 200
            bodies[f"explain {campaign} {row['key']}"] = explain.content
            posted = post_json(client, "/api/explain", {**base, "profile": row["raw"]})
            assert posted.status_code == 200, posted.text
            bodies[f"explain POST {campaign} {row['key']}"] = posted.content
            rendered = post_json(client, "/api/profile", {**base, "profile": row["raw"]})
            assert rendered.status_code == 200, rendered.text
            bodies[f"profile {campaign} {row['key']}"] = rendered.content
            masked_seen += rendered.text.count(MASK)
    assert masked_seen, "the masked attributes should be sent as the mask"
    # A persona edit goes out as a row event: masked as well.
    rows(client)
    stream = _sse_until(server, "done", project / "previews/profiles/medical-notes-ruth.yaml")
    assert "Ruthie" in stream
    bodies["events"] = stream.encode()
    for where, body in bodies.items():
        assert_no_secret(body, where)


def test_masked_rows_and_explain_clauses(client: httpx.Client) -> None:
    table = rows(client)
    ruth = table[RUTH]["raw"]
    assert ruth["medical_notes"] == MASK
    assert ruth["health"] == {"condition": MASK}
    assert table[SVEN]["raw"]["medical_notes"] == MASK
    assert table[SVEN]["raw"]["health"] == {"condition": MASK, "checked": True}
    explain = client.get("/api/explain", params={"campaign": SUMMER, "at": DEMO_AT, "row": RUTH})
    segment = next(
        s for s in explain.json()["explain"]["segments"] if s["segment"] == "notes_on_file"
    )
    assert segment["member"] is True
    assert segment["clauses"][0]["actual"] == MASK
    assert segment["clauses"][0]["expected"] == "allergy"  # the authored rule stays visible


def _notes_member(response: httpx.Response) -> bool:
    assert response.status_code == 200, response.text
    segments = response.json()["explain"]["segments"]
    return bool(next(s for s in segments if s["segment"] == "notes_on_file")["member"])


def test_untouched_mask_keeps_the_server_value_and_a_typed_value_is_tried(
    client: httpx.Client,
) -> None:
    ruth = rows(client)[RUTH]["raw"]
    base = {"campaign": SUMMER, "at": DEMO_AT, "row": RUTH}
    # Untouched: the persona's real notes hold the rule.
    assert _notes_member(post_json(client, "/api/explain", {**base, "profile": ruth}))
    # Typed in: the rule is tried with the typed value, either way.
    typed = {**ruth, "medical_notes": "no notes"}
    assert not _notes_member(post_json(client, "/api/explain", {**base, "profile": typed}))
    sven = rows(client)[SVEN]["raw"]
    typed = {**sven, "medical_notes": "pollen allergy"}
    sven_base = {**base, "row": SVEN}
    assert _notes_member(post_json(client, "/api/explain", {**sven_base, "profile": typed}))
    # Without a row there is no server value: the mask is dropped, never matched as text.
    custom = {"campaign": SUMMER, "at": DEMO_AT, "profile": {**ruth, "id": "p-new"}}
    assert not _notes_member(post_json(client, "/api/explain", custom))
    # Another row's mask does not borrow this row's value.
    borrowed = {**base, "row": "persona:vip-margaret", "profile": ruth}
    assert not _notes_member(post_json(client, "/api/explain", borrowed))
    # The form's answer shows the typed value masked too.
    answer = post_json(client, "/api/profile", {**base, "profile": {**ruth, "medical_notes": "x1"}})
    assert answer.json()["row"]["raw"]["medical_notes"] == MASK


def test_form_errors_on_sensitive_fields_do_not_echo_the_value(client: httpx.Client) -> None:
    ruth = rows(client)[RUTH]["raw"]
    body = {"campaign": SUMMER, "at": DEMO_AT, "row": RUTH}
    bad = {**ruth, "health": {"condition": ["SECRET-TYPED-IN-A-LIST"]}}
    response = post_json(client, "/api/profile", {**body, "profile": bad})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["health.condition"]
    assert "SECRET-TYPED" not in response.text


def _problems_after(client: httpx.Client, seconds: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    problems: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not problems:
        time.sleep(0.1)
        problems = client.get("/api/meta").json()["problems"]
    return problems


def test_a_persona_error_on_a_sensitive_field_does_not_show_the_value(tmp_path: Path) -> None:
    root = make_sensitive_project(tmp_path / "demo")
    ruth = root / "previews/profiles/medical-notes-ruth.yaml"
    with (
        BackgroundServer(root, default_at=DEMO_AT) as server,
        httpx.Client(base_url=server.url.rstrip("/"), timeout=30) as client,
    ):
        text = ruth.read_text(encoding="utf-8")
        broken = "medical_notes: [Latex allergy, knee surgery]\n"
        ruth.write_text(re.sub(r"(?m)^medical_notes: .*\n", broken, text), encoding="utf-8")
        problems = _problems_after(client)
        assert problems, "the broken persona should be reported"
        assert problems[0]["path"] == "previews/profiles/medical-notes-ruth.yaml"
        assert "medical_notes" in problems[0]["message"]
        assert "not shown" in problems[0]["message"]
        assert_no_secret(client.get("/api/meta").content, "problems")


def test_export_carries_no_sensitive_value(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    export_site(project, out, at=DEMO_AT)
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".js", ".json")]
    assert files
    for file in files:
        assert_no_secret(file.read_bytes(), str(file))
    page = (out / SUMMER / "index.html").read_text(encoding="utf-8")
    assert MASK in page or json.dumps(MASK)[1:-1] in page


# -- item 12: nothing outside the project ---------------------------------------------------

TRAVERSALS = (
    "/assets/../atomcast.yaml",
    "/assets/..%2fatomcast.yaml",
    "/assets/%2e%2e%2fatomcast.yaml",
    "/assets/%2E%2E/%2E%2E/outside.txt",
    "/assets/..%5c..%5coutside.txt",
    "/assets/..\\..\\outside.txt",
    "/assets/%00",
    "/assets/x%00.png",
    "/assets//etc/passwd",
    "/assets/%2fetc%2fpasswd",
    "/assets/C:/Windows/win.ini",
    "/assets/~/.ssh/id_rsa",
    "/assets/escape-link.txt",
    "/assets/escape-dir/outside.txt",
    "/static/%2e%2e/app.py",
    "/static/.%2e/.%2e/.%2e/atomcast.yaml",
    "/static/%252e%252e/%252e%252e/atomcast.yaml",
)


def test_url_traversal_never_reads_outside(server: BackgroundServer, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.txt").write_text("OUTSIDE-CONTENT")
    assets = server.state.assets_dir
    assets.mkdir(parents=True, exist_ok=True)
    for name, target in (("escape-link.txt", outside / "outside.txt"), ("escape-dir", outside)):
        if not (assets / name).is_symlink():
            os.symlink(target, assets / name)
    for path in TRAVERSALS:
        status, body = raw_request(server.port, "GET", path, [("Host", "127.0.0.1")])
        assert status in (400, 404), path
        assert b"OUTSIDE-CONTENT" not in body, path
        assert b"brand:" not in body, path


def _write_outside_persona(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    leak = folder / "leak.yaml"
    leak.write_text("id: p-leak\nfirst_name: LEAKED-FROM-OUTSIDE\n", encoding="utf-8")
    return leak


def _link_persona(root: Path, outside: Path) -> str:
    os.symlink(_write_outside_persona(outside), root / "previews/profiles/leak.yaml")
    return "previews/profiles/leak.yaml"


def _link_persona_folder(root: Path, outside: Path) -> str:
    _write_outside_persona(outside)
    os.symlink(outside, root / "previews/profiles/more")
    return "previews/profiles/more"


def _link_atom(root: Path, outside: Path) -> str:
    outside.mkdir(parents=True, exist_ok=True)
    atom = outside / "headline-leak.md"
    atom.write_text("---\nkind: headline\ntext: LEAKED-FROM-OUTSIDE\n---\n", encoding="utf-8")
    os.symlink(atom, root / "content_atoms/headline-leak.md")
    return "content_atoms/headline-leak.md"


def _link_layouts(root: Path, outside: Path) -> str:
    shutil.copytree(root / "layouts", outside)
    (outside / "sms/promo.txt").write_text("LEAKED-FROM-OUTSIDE\n", encoding="utf-8")
    shutil.rmtree(root / "layouts")
    os.symlink(outside, root / "layouts")
    return "layouts"


def _link_css(root: Path, outside: Path) -> str:
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "web.css").write_text("/* LEAKED-FROM-OUTSIDE */", encoding="utf-8")
    os.symlink(outside / "web.css", root / "previews/web.css")
    return "previews/web.css"


def _link_nested(root: Path, outside: Path) -> str:
    # A folder linked inside the project that itself links out.
    inner = root / "elsewhere"
    inner.mkdir()
    os.symlink(_write_outside_persona(outside), inner / "leak.yaml")
    os.symlink(inner, root / "previews/profiles/inner")
    return "previews/profiles/inner/leak.yaml"


def _link_config(root: Path, outside: Path) -> str:
    outside.mkdir(parents=True, exist_ok=True)
    shutil.move(root / "atomcast.yaml", outside / "atomcast.yaml")
    os.symlink(outside / "atomcast.yaml", root / "atomcast.yaml")
    return "atomcast.yaml"


def _link_image(root: Path, outside: Path) -> str:
    outside.mkdir(parents=True, exist_ok=True)
    image = root / "content_atoms/summer-sale/images/hero-harbor-dawn.jpg"
    shutil.move(image, outside / image.name)
    os.symlink(outside / image.name, image)
    return "content_atoms/summer-sale/images/hero-harbor-dawn.jpg"


def _link_image_beside_the_folders(root: Path, outside: Path) -> str:
    # An image outside the scanned folders: the loader's own check refuses it.
    outside.mkdir(parents=True, exist_ok=True)
    atom = root / "content_atoms/cabin-season/images/hero-cabin-snow.md"
    image = atom.with_suffix(".jpg")
    shutil.move(image, outside / image.name)
    (root / "img").mkdir()
    os.symlink(outside / image.name, root / "img" / image.name)
    text = atom.read_text(encoding="utf-8")
    atom.write_text(
        text.replace("src: hero-cabin-snow.jpg", "src: ../../../img/hero-cabin-snow.jpg")
    )
    return "content_atoms/cabin-season/images/hero-cabin-snow.md"


LINKS = {
    "image": _link_image,
    "image beside the scanned folders": _link_image_beside_the_folders,
    "persona": _link_persona,
    "persona folder": _link_persona_folder,
    "atom": _link_atom,
    "layouts folder": _link_layouts,
    "web.css": _link_css,
    "link through an inside folder": _link_nested,
    "atomcast.yaml": _link_config,
}


@pytest.mark.parametrize("kind", list(LINKS))
def test_symlink_out_of_the_project_is_refused_before_reading(tmp_path: Path, kind: str) -> None:
    root = copy_project(ROOT, tmp_path / "demo")
    where = LINKS[kind](root, tmp_path / "outside")
    with pytest.raises(ProjectError) as refused:
        PreviewState(root, default_at=DEMO_AT)
    problems = [p for p in refused.value.problems if p.path == where]
    assert problems, [str(p) for p in refused.value.problems]
    assert "outside the project" in problems[0].message
    with pytest.raises(ProjectError):
        export_site(root, tmp_path / "site", at=DEMO_AT)
    assert not (tmp_path / "site").exists()


def test_symlink_added_while_serving_is_refused_and_never_served(tmp_path: Path) -> None:
    root = copy_project(ROOT, tmp_path / "demo")
    with (
        BackgroundServer(root, default_at=DEMO_AT) as server,
        httpx.Client(base_url=server.url.rstrip("/"), timeout=30) as client,
    ):
        assert rows(client)
        _link_persona(root, tmp_path / "outside")
        problems = _problems_after(client)
        assert problems, "the reload should report the link"
        assert problems[0]["path"] == "previews/profiles/leak.yaml"
        for response in (
            client.get("/api/matrix", params={"campaign": SUMMER, "at": DEMO_AT}),
            client.get("/api/meta"),
            client.get("/api/explain", params={"campaign": SUMMER, "row": "persona:leak"}),
        ):
            assert "LEAKED-FROM-OUTSIDE" not in response.text


@pytest.mark.parametrize(
    "configured", ["../outside-assets", "/tmp/atomcast-outside-assets", "a/../../x"]
)
def test_assets_dir_outside_the_project_is_refused(tmp_path: Path, configured: str) -> None:
    root = copy_project(ROOT, tmp_path / "demo")
    config = root / "atomcast.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + f"\nassets:\n  dir: {configured}\n", encoding="utf-8")
    target = (root / configured).resolve()
    existed = target.exists()
    with pytest.raises(ProjectError) as refused:
        PreviewState(root, default_at=DEMO_AT)
    problem = refused.value.problems[0]
    assert problem.path == "atomcast.yaml"
    assert "assets.dir" in problem.message
    assert problem.line > 1
    assert target.exists() == existed


@pytest.mark.parametrize(
    "name",
    [
        "../escape",
        "a/b",
        "..",
        ".hidden",
        "-rf",
        "static",
        "assets",
        "CON",
        "x\x00y",
        "tab\tname",
        "é" * 3,
    ],
)
def test_hostile_campaign_names_never_become_export_paths(tmp_path: Path, name: str) -> None:
    root = copy_project(ROOT, tmp_path / "demo")
    config = root / "atomcast.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("  summer-sale:\n", f"  {json.dumps(name)}:\n", 1), encoding="utf-8"
    )
    out = tmp_path / "exports" / "site"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises((ExportError, ProjectError)):
        export_site(root, out, at=DEMO_AT)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    outside_out = [p for p in after if p not in before and not (tmp_path / p).is_relative_to(out)]
    assert outside_out == []
    assert not any(out.rglob("index.html")) if out.exists() else True


@given(st.text(max_size=40))
def test_export_segment_accepts_only_names_that_stay_one_folder_down(name: str) -> None:
    out = Path("/srv/export")
    try:
        accepted = export_segment(name)
    except ExportError:
        return
    assert (out / accepted).parent == out
    assert os.path.normpath(out / accepted) == str(out / accepted)
    assert accepted.lower() not in ("static", "assets")


@pytest.mark.parametrize("link", first_fast(["static", SUMMER, "assets", "index.html"]))
def test_export_never_writes_through_a_link_out_of_its_folder(tmp_path: Path, link: str) -> None:
    out = tmp_path / "site"
    out.mkdir()
    outside = tmp_path / "precious"
    outside.mkdir()
    keep = outside / "keep.txt"
    keep.write_text("KEEP")
    target = keep if link == "index.html" else outside
    os.symlink(target, out / link)
    with pytest.raises(ExportError, match="outside"):
        export_site(ROOT, out, at=DEMO_AT)
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert keep.read_text() == "KEEP"


def test_export_cli_names_a_bad_campaign_in_one_line(tmp_path: Path) -> None:
    for campaign in ("../escape", "nope"):
        result = run_cli(
            "preview",
            str(ROOT),
            "--export",
            str(tmp_path / "s"),
            "--campaign",
            campaign,
            "--at",
            DEMO_AT,
        )
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error:")
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "escape").exists()


# -- item 13: request hygiene -----------------------------------------------------------------


def test_oversized_bodies_get_413(client: httpx.Client, server: BackgroundServer) -> None:
    big = b'{"campaign": "summer-sale", "profile": {"id": "' + b"x" * MAX_BODY_BYTES + b'"}}'
    headers = {"Content-Type": "application/json"}
    for path in ("/api/profile", "/api/explain"):
        assert client.post(path, content=big, headers=headers).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
            for start in range(0, len(big), 16384):
                yield big[start : start + 16384]

        assert client.post(path, content=chunks(), headers=headers).status_code == 413
    lying = [("Host", "127.0.0.1"), ("Content-Type", "application/json")]
    status, _ = raw_request(
        server.port, "POST", "/api/profile", [*lying, ("Content-Length", "99999999999")], None
    )
    assert status == 413


def _deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _body(at: str | None = None, **attributes: Any) -> bytes:
    body: dict[str, Any] = {"campaign": SUMMER, "profile": {"id": "p", **attributes}}
    if at is not None:
        body["at"] = at
    return json.dumps(body).encode()


def _raw_profile(fragment: str) -> bytes:
    return ('{"campaign":"summer-sale","profile":' + fragment + "}").encode()


HOSTILE_BODIES: dict[str, bytes] = {
    "deep list, 100k": _raw_profile(_deep(100_000, "list")),
    "deep object, 2k": _raw_profile(_deep(2_000, "obj")),
    "deep object, 40": _raw_profile('{"id":"p","x":' + _deep(40, "obj") + "}"),
    "lone surrogate value": _raw_profile('{"id":"p","first_name":"\\ud800"}'),
    "lone surrogate key": _raw_profile('{"id":"p","\\udfff":1}'),
    "lone surrogate campaign": b'{"campaign":"\\ud83d","profile":{"id":"p"}}',
    "NaN": _raw_profile('{"id":"p","lifetime_value":NaN}'),
    "Infinity": _raw_profile('{"id":"p","lifetime_value":-Infinity}'),
    "1e400": _raw_profile('{"id":"p","lifetime_value":1e400}'),
    "10**30": _body(orders_count=10**30),
    "5000 digits": _raw_profile('{"id":"p","orders_count":' + "9" * 5000 + "}"),
    "not UTF-8": b'{"campaign":"summer-sale","profile":{"id":"\xff\xfe"}}',
    "array": b"[]",
    "string": b'"profile"',
    "number": b"1",
    "null": b"null",
    "empty": b"",
    "truncated": b'{"campaign":',
    "profile is a list": _raw_profile("[]"),
    "campaign is an object": b'{"campaign":{"$ne":1},"profile":{"id":"p"}}',
    "at year 1 with offset": _body(at="0001-01-01T00:00:00+01:00"),
    "at year 9999 behind UTC": _body(at="9999-12-31T23:59:59-01:00"),
    "at year 10000": _body(at="10000-01-01T00:00:00Z"),
    "at is a number": b'{"campaign":"summer-sale","at":1e308,"profile":{"id":"p"}}',
    "datetime attribute year 1 with offset": _body(last_purchase_at="0001-01-01T00:30:00+01:00"),
    "datetime attribute year 9999 behind UTC": _body(signup_at="9999-12-31T23:59:59-05:00"),
    "datetime attribute month 13": _body(signup_at="2026-13-01T00:00:00Z"),
    "id is an object": b'{"campaign":"summer-sale","profile":{"id":{"a":1}}}',
    "sensitive mask without row": _body(medical_notes=MASK),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_json_bodies_get_4xx_never_500(client: httpx.Client, name: str) -> None:
    headers = {"Content-Type": "application/json"}
    for path in ("/api/profile", "/api/explain"):
        response = client.post(path, content=HOSTILE_BODIES[name], headers=headers)
        if name == "sensitive mask without row":
            assert response.status_code == 200
            continue
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
        assert "error" in response.json()


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "99999-01-01",
        "2026-02-30T00:00:00Z",
        "x" * 10_000,
    ],
)
def test_hostile_instants_in_query_strings_get_400(client: httpx.Client, at: str) -> None:
    for path in ("/api/matrix", "/api/explain"):
        response = client.get(path, params={"campaign": SUMMER, "at": at, "row": RUTH})
        assert response.status_code == 400, (path, at, response.text[:200])


ATTRIBUTES = (
    "id",
    "first_name",
    "lifetime_value",
    "orders_count",
    "last_purchase_at",
    "interests",
    "consent",
    "medical_notes",
    "health",
    "locale",
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(
        alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=20
    ),
    st.sampled_from(
        [MASK, "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "2026-02-30", ""]
    ),
    st.datetimes().map(lambda d: d.isoformat() + "+14:00"),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_profiles = st.dictionaries(st.sampled_from(ATTRIBUTES), _values, max_size=len(ATTRIBUTES))
_bodies = st.one_of(
    st.fixed_dictionaries(
        {"campaign": st.sampled_from([SUMMER, "cabin-season", "nope"]), "profile": _profiles},
        optional={
            "row": st.sampled_from([RUTH, SVEN, "persona:nope", ""]) | _values,
            "at": st.sampled_from([DEMO_AT, "0001-01-01T00:00:00+01:00", "garbage"]) | _values,
        },
    ),
    _values,
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=_bodies, path=st.sampled_from(["/api/profile", "/api/explain"]))
def test_property_hostile_bodies_never_get_a_5xx(
    client: httpx.Client, body: Any, path: str
) -> None:
    payload = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    response = client.post(path, content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (body, response.text[:300])
    assert_no_secret(response.content, path)


# -- item 15: a busy port -------------------------------------------------------------------


def _preview_on(port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", "preview", str(ROOT), "--port", str(port), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_one_error_line(result: subprocess.CompletedProcess[str], port: int) -> None:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "in use" in lines[0]
    assert str(port) in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("host", first_fast([None, "127.0.0.1", "localhost"]))
def test_busy_port_is_one_error_line_and_exit_1(host: str | None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        extra = ("--host", host) if host else ()
        _assert_one_error_line(_preview_on(port, *extra), port)


def test_port_held_by_another_preview_is_one_error_line(server: BackgroundServer) -> None:
    _assert_one_error_line(_preview_on(server.port), server.port)
    assert httpx.get(server.url + "api/health").status_code == 200  # the first one lives on


def test_free_port_still_starts(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "atomcast", "preview", str(ROOT), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200
        evil = httpx.get(f"http://127.0.0.1:{port}/api/meta", headers={"Host": "evil.example"})
        assert evil.status_code == 400
    finally:
        process.terminate()
        process.communicate(timeout=20)
