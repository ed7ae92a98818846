"""``atomcast serve`` in process (SPEC 9): the same records as ``atomcast render``, and a
documented 4xx for every bad request, never a 500."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.cli import main
from atomcast.errors import ServeError
from atomcast.serve.auth import ApiKeys, bearer_token
from atomcast.serve.content import ContentHolder
from tests.conftest import DEMO_AT, ROOT, examples, fast_diagonal
from tests.serve_fixtures import jsonable, render_body, serve_client

PERSONAS = sorted(p.stem for p in (ROOT / "previews" / "profiles").glob("*.yaml"))
CAMPAIGNS = ("summer-sale", "cabin-season")
KEY = "k" * 24
JSON = {"content-type": "application/json"}


def persona(root: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load((root / "previews" / "profiles" / f"{name}.yaml").read_text())
    return jsonable(data)  # type: ignore[no-any-return]


def cli_output(root: Path, campaign: str, name: str, *args: str) -> bytes:
    """``atomcast render --indent 0`` run through the CLI's own code."""
    profile = str(root / "previews" / "profiles" / f"{name}.yaml")
    result = CliRunner().invoke(
        main,
        ["render", str(root), "-c", campaign, "-p", profile, "--indent", "0", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


@pytest.fixture(scope="module")
def demo() -> Any:
    with serve_client(ROOT) as (client, state):
        yield client, state


# -- the record is the CLI's ------------------------------------------------------------------


@pytest.mark.parametrize(("campaign", "name"), fast_diagonal(PERSONAS, CAMPAIGNS))
def test_render_equals_atomcast_render_for_every_persona(
    demo: Any, campaign: str, name: str
) -> None:
    client, state = demo
    body = render_body(campaign, persona(ROOT, name), at=DEMO_AT)
    response = client.post("/v1/render", json=body)
    assert response.status_code == 200, response.text
    expected = cli_output(ROOT, campaign, name, "--at", DEMO_AT)
    assert response.content + b"\n" == expected
    assert response.json() == json.loads(expected)
    assert response.headers["atomcast-content"] == state.holder.fingerprint
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("channels", [["sms"], ["web", "push"], ["email"]])
def test_a_channel_subset_equals_render_with_channel(demo: Any, channels: list[str]) -> None:
    client, _ = demo
    name = "vip-margaret"
    body = render_body("summer-sale", persona(ROOT, name), at=DEMO_AT, channels=channels)
    response = client.post("/v1/render", json=body)
    args = [arg for channel in channels for arg in ("--channel", channel)]
    expected = cli_output(ROOT, "summer-sale", name, "--at", DEMO_AT, *args)
    assert response.content + b"\n" == expected
    assert sorted(response.json()["channels"]) == sorted(channels)


def test_instants_of_one_day_share_a_renderer_and_still_match_render(demo: Any) -> None:
    client, _ = demo
    name = "outdoors-sam"
    for at in ("2026-08-31T00:00:00Z", "2026-08-31T23:59:59Z", "2026-09-01T00:00:00Z"):
        body = render_body("summer-sale", persona(ROOT, name), at=at)
        response = client.post("/v1/render", json=body)
        assert response.content + b"\n" == cli_output(ROOT, "summer-sale", name, "--at", at)


def test_health_and_metrics(demo: Any) -> None:
    client, state = demo
    health = client.get("/v1/health")
    assert health.json() == {"status": "ok", "content": state.holder.fingerprint}
    client.post("/v1/render", json=render_body("summer-sale", {"id": "p-m"}, at=DEMO_AT))
    text = client.get("/metrics").text
    assert 'atomcast_http_requests_total{method="POST",route="/v1/render",status="200"}' in text
    assert "atomcast_http_request_duration_seconds_bucket" in text
    assert f'atomcast_content_info{{content="{state.holder.fingerprint}"}} 1.0' in text


def test_render_on_the_render_thread_gives_the_same_record() -> None:
    with serve_client(ROOT, render_in="thread") as (client, _):
        body = render_body("summer-sale", persona(ROOT, "fr-amelie"), at=DEMO_AT)
        response = client.post("/v1/render", json=body)
    assert response.content + b"\n" == cli_output(ROOT, "summer-sale", "fr-amelie", "--at", DEMO_AT)


# -- bad requests -----------------------------------------------------------------------------


def _post(client: Any, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post("/v1/render", content=body, headers=JSON if headers is None else headers)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"campaign": 3, "profile": {"id": "p"}}, 422, "campaign"),
        ({"profile": {"id": "p"}}, 422, "campaign"),
        ({"campaign": "nope", "profile": {"id": "p"}}, 404, "campaign"),
        ({"campaign": "summer-sale"}, 422, "profile"),
        ({"campaign": "summer-sale", "profile": [1]}, 422, "profile"),
        ({"campaign": "summer-sale", "profile": {"id": 7}}, 422, "profile.id"),
        ({"campaign": "summer-sale", "profile": {}}, 422, "profile.id"),
        (
            {"campaign": "summer-sale", "profile": {"id": "p", "lifetime_value": "x"}},
            422,
            "profile.lifetime_value",
        ),
        ({"campaign": "summer-sale", "profile": {"id": "p"}, "channels": "sms"}, 422, "channels"),
        ({"campaign": "summer-sale", "profile": {"id": "p"}, "channels": []}, 422, "channels"),
        ({"campaign": "summer-sale", "profile": {"id": "p"}, "channels": ["fax"]}, 422, "channels"),
        ({"campaign": "summer-sale", "profile": {"id": "p"}, "at": "tomorrow"}, 422, "at"),
        ({"campaign": "summer-sale", "profile": {"id": "p"}, "at": 20260715}, 422, "at"),
        (
            {"campaign": "summer-sale", "profile": {"id": "p"}, "at": "0001-01-01T00:00+01:00"},
            422,
            "at",
        ),
        ({"campaign": "summer-sale", "profile": {"id": "p"}, "chanels": ["sms"]}, 422, "chanels"),
    ],
)
def test_bad_fields_are_4xx_with_the_field(
    demo: Any, body: dict[str, Any], status: int, field: str
) -> None:
    client, state = demo
    response = _post(client, json.dumps(body))
    assert response.status_code == status, response.text
    data = response.json()
    assert data["field"] == field
    assert data["error"]
    assert response.headers["atomcast-content"] == state.holder.fingerprint


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{", JSON, 400),
        (b"[1, 2]", JSON, 400),
        (b'{"campaign": NaN}', JSON, 400),
        (b"\xff\xfe", JSON, 400),
        (b"[" * 5000 + b"]" * 5000, JSON, 400),
        (b'{"campaign": "summer-sale"}', {"content-type": "text/plain"}, 415),
        (b'{"campaign": "summer-sale"}', {}, 415),
        (b'{"a": 1}', {"content-type": "application/json; charset=latin-1"}, 415),
    ],
)
def test_malformed_bodies(demo: Any, body: bytes, headers: dict[str, str], status: int) -> None:
    client, _ = demo
    response = _post(client, body, headers)
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_a_body_over_the_limit_is_413_with_or_without_content_length(demo: Any) -> None:
    client, _ = demo
    big = json.dumps({"campaign": "summer-sale", "profile": {"id": "x" * 300_000}}).encode()
    assert _post(client, big).status_code == 413

    def chunks() -> Any:
        for start in range(0, len(big), 16_384):
            yield big[start : start + 16_384]

    # A streamed body carries no Content-Length: it is counted as it arrives.
    response = client.post("/v1/render", content=chunks(), headers=JSON)
    assert response.status_code == 413
    lying = {**JSON, "content-length": "10"}
    assert _post(client, b'{"campaign": "summer-sale"}', lying).status_code in (400, 413, 422)


def test_routes_and_methods(demo: Any) -> None:
    client, state = demo
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such route"}
    assert missing.headers["atomcast-content"] == state.holder.fingerprint
    assert client.get("/v1/render").status_code == 405
    assert client.post("/v1/health").status_code == 405


def test_a_foreign_host_is_refused_without_keys(demo: Any) -> None:
    client, _ = demo
    response = client.get("/v1/health", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert client.get("/v1/health", headers={"host": "localhost:8080"}).status_code == 200


hostile_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
request_like = st.fixed_dictionaries(
    {},
    optional={
        "campaign": st.sampled_from(CAMPAIGNS) | hostile_json,
        "profile": st.fixed_dictionaries(
            {"id": st.text() | hostile_json},
            optional={
                "first_name": hostile_json,
                "lifetime_value": hostile_json,
                "signup_at": st.text() | hostile_json,
                "interests": hostile_json,
                "consent": st.dictionaries(
                    st.sampled_from(["email", "sms", "push", "web"]), hostile_json
                ),
                "locale": st.sampled_from(["fr-CA", "en-US", "de", ""]) | st.text(),
            },
        )
        | hostile_json,
        "channels": st.lists(st.sampled_from(["email", "sms", "push", "web", "fax"]))
        | hostile_json,
        "at": st.datetimes().map(lambda d: d.isoformat()) | st.text() | hostile_json,
    },
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=request_like | hostile_json)
def test_hostile_json_is_never_a_500(body: Any) -> None:
    client, _ = _shared_client()
    try:
        raw = json.dumps(body).encode()
    except ValueError:
        return
    response = _post(client, raw)
    assert response.status_code in (200, 400, 404, 413, 415, 422), response.text
    assert isinstance(response.json(), dict)


_CLIENT: list[Any] = []


def _shared_client() -> Any:
    # One app for every example (hypothesis does not mix with function-scoped fixtures).
    if not _CLIENT:
        context = serve_client(ROOT)
        _CLIENT.append((context, *context.__enter__()))
    return _CLIENT[0][1], _CLIENT[0][2]


def teardown_module() -> None:
    if _CLIENT:
        _CLIENT[0][0].__exit__(None, None, None)


# -- keys -------------------------------------------------------------------------------------


def test_keys_guard_every_v1_route_but_health() -> None:
    with serve_client(ROOT, keys=f"{KEY}, {'z' * 20}", host="0.0.0.0") as (client, _):
        body = render_body("summer-sale", {"id": "p-k"}, at=DEMO_AT)
        missing = client.post("/v1/render", json=body)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/v1/render", json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = client.post("/v1/render", json=body, headers={"authorization": f"Basic {KEY}"})
        assert basic.status_code == 401
        for key in (KEY, "z" * 20):
            ok = client.post("/v1/render", json=body, headers={"authorization": f"Bearer {key}"})
            assert ok.status_code == 200
        assert client.get("/v1/health").status_code == 200
        # Behind a load balancer any host name may arrive: the key is the guard.
        behind = client.get("/v1/health", headers={"host": "api.example.com"})
        assert behind.status_code == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        (" , ", "holds no key"),
        ("short", "shorter"),
        ("a" * 20 + "é", "ASCII"),
    ],
)
def test_bad_key_settings_are_refused(text: str, message: str) -> None:
    with pytest.raises(ServeError, match=message):
        ApiKeys.parse(text)


def test_key_comparison() -> None:
    keys = ApiKeys.parse(KEY)
    assert keys.allows(KEY.encode())
    assert not keys.allows(KEY.encode() + b"x")
    assert not keys.allows(None)
    assert not ApiKeys.parse(None).required
    assert bearer_token(b"Bearer  abc ") == b"abc"
    assert bearer_token(b"bearer abc") == b"abc"
    assert bearer_token(b"Token abc") is None
    assert bearer_token(b"Bearer") is None


# -- logs -------------------------------------------------------------------------------------


def test_the_access_log_never_holds_profile_values() -> None:
    log = io.StringIO()
    secret = "Secret-Value-7f3a"
    with serve_client(ROOT, log=log) as (client, _):
        good = {"id": "p-log", "first_name": secret, "city": secret}
        client.post("/v1/render", json=render_body("summer-sale", good, at=DEMO_AT))
        bad = {"id": "p-log", "lifetime_value": secret}
        assert client.post("/v1/render", json=render_body("summer-sale", bad)).status_code == 422
        client.post(f"/v1/render?{secret}", json=render_body("summer-sale", good))
    text = log.getvalue()
    assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if "status" in line]
    assert [line["status"] for line in access] == [200, 422, 200]
    first = access[0]
    assert set(first) >= {"ts", "method", "path", "status", "ms", "campaign", "content"}
    assert access[1]["field"] == "profile.lifetime_value"


# -- limits ------------------------------------------------------------------------------------


def test_a_profile_past_the_record_timeout_is_422_and_the_server_goes_on(
    mini_project: Path,
) -> None:
    config = mini_project / "atomcast.yaml"
    many = ", ".join(f"{{interests: {{$all: [x{i}, y{i}]}}}}" for i in range(4000))
    text = config.read_text().replace(
        "  vip: {lifetime_value: {$gte: 1000}}\n",
        f"  vip: {{lifetime_value: {{$gte: 1000}}}}\n  busy: {{$or: [{many}]}}\n",
    )
    config.write_text(text + "limits:\n  record_timeout: 0.05\n", encoding="utf-8")
    with serve_client(mini_project) as (client, _):
        slow = {"id": "p-slow", "interests": [f"i{n}" for n in range(20000)]}
        response = client.post("/v1/render", json=render_body("sale", slow))
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "profile"
        assert "record_timeout" in response.json()["error"]
        after = client.post("/v1/render", json=render_body("sale", {"id": "p-fast"}))
        assert after.status_code == 200
        assert 'atomcast_errors_total{kind="limit"} 1.0' in client.get("/metrics").text


# -- reload ------------------------------------------------------------------------------------


def test_reload_swaps_good_content_and_keeps_it_when_the_next_is_broken(
    demo_project: Path,
) -> None:
    holder = ContentHolder(demo_project)
    first = holder.fingerprint
    unchanged = holder.reload()
    assert unchanged.ok
    assert not unchanged.changed
    atom = demo_project / "content_atoms" / "summer-sale" / "headlines" / "headline-summer-a.md"
    atom.write_text(atom.read_text().replace("Long days", "Longest days", 1), encoding="utf-8")
    changed = holder.reload()
    assert changed.ok
    assert changed.changed
    assert holder.fingerprint != first
    good = holder.current
    atom.write_text("---\nkind: [not a kind\n---\n", encoding="utf-8")
    broken = holder.reload()
    assert not broken.ok
    assert broken.problems
    assert any("headline-summer-a.md" in problem for problem in broken.problems)
    assert holder.current is good


def test_the_background_log_writer_keeps_every_line_in_order() -> None:
    from atomcast.serve.logs import AccessRecord, JsonLog

    stream = io.StringIO()
    log = JsonLog(stream=stream, background=True)
    for status in range(200, 700):
        log.request(AccessRecord("POST", "/v1/render", status, 1.0, "fp"))
    log.close()
    statuses = [json.loads(line)["status"] for line in stream.getvalue().splitlines()]
    assert statuses == list(range(200, 700))
