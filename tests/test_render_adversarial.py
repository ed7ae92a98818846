"""Hostile atoms and profiles: every one gives escaped output or a clear per-channel error,
never a crash of the whole render and never executed markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from atomcast.errors import ProjectError
from atomcast.project import load_project
from atomcast.render import Renderer
from tests.conftest import run_cli

AT = "2026-01-15T12:00:00Z"
ALL_CONSENT = {"email": True, "push": True, "sms": True, "web": True}


def render(root: Path, tmp_path: Path, **attributes: Any) -> dict[str, Any]:
    project = load_project(root)
    renderer = Renderer(project, assets_dir=tmp_path / "assets").campaign("sale", at=AT)
    # A VIP gets the headline that prints first_name, whatever the experiment arm.
    raw = {"id": "p-1", "consent": ALL_CONSENT, "lifetime_value": 2000, **attributes}
    return renderer.render_raw(raw).to_json()


def write_atom(root: Path, name: str, text: str) -> None:
    (root / "content_atoms" / f"{name}.md").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "value",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</mj-text><mj-raw><script>alert(1)</script></mj-raw><mj-text>",
        "<mj-button href='javascript:alert(1)'>x</mj-button>",
    ],
)
def test_profile_markup_is_escaped_in_html_channels(
    value: str, mini_project: Path, tmp_path: Path
) -> None:
    record = render(mini_project, tmp_path, first_name=value)
    email = record["channels"]["email"]
    web = record["channels"]["web"]
    assert email["status"] == "rendered"
    for html in (email["html"], web["html"]):
        assert "<script>" not in html
        assert "onerror=alert" not in html.replace("&#34;", '"') or "&lt;img" in html
        assert "&lt;" in html
        assert "<mj-" not in html
    # Plain-text channels carry the value as text, which is what an SMS is.
    assert value in record["channels"]["sms"]["text"] or record["channels"]["sms"]["status"]


def test_jinja_in_profile_values_is_never_evaluated(mini_project: Path, tmp_path: Path) -> None:
    record = render(mini_project, tmp_path, first_name="{{ 7*7 }}{% raw %}")
    email = record["channels"]["email"]
    assert email["status"] == "rendered"
    assert "{{ 7*7 }}" in email["subject"]
    assert "49" not in email["subject"]


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ brand.update({'name': 'x'}) }}",
        "{{ campaign.clear() }}",
        "{% for x in range(10**9) %}{% endfor %}",
    ],
)
def test_sandbox_escapes_fail_the_channel_not_the_render(
    template: str, mini_project: Path, tmp_path: Path
) -> None:
    write_atom(
        mini_project,
        "headline-evil",
        f'---\nkind: headline\npriority: 100\ntext: "{template}"\n---\n',
    )
    record = render(mini_project, tmp_path)
    assert record["decisions"]["headline"] == "headline-evil"
    for channel in ("email", "push", "sms", "web"):
        output = record["channels"][channel]
        if output["status"] == "rendered":
            # Jinja printed an attribute that the sandbox hid; nothing leaked.
            dumped = json.dumps(output)
            assert "subclasses" not in dumped
            assert "function" not in dumped.lower()
            assert "module 'os'" not in dumped
        else:
            assert output["status"] == "error"
            assert "headline-evil.md" in output["reason"]


@pytest.mark.parametrize(
    "template",
    ["{{ profile.__class__ }}", "{{ profile.update({'id': 'x'}) }}", "{{ profile['__dict__'] }}"],
)
def test_profile_internals_are_rejected_by_check(template: str, mini_project: Path) -> None:
    """Only schema attributes may be named on profile, so these never reach a render."""
    write_atom(
        mini_project,
        "headline-evil",
        f'---\nkind: headline\npriority: 100\ntext: "{template}"\n---\n',
    )
    with pytest.raises(ProjectError, match=r"headline-evil\.md:4: error: text: profile"):
        load_project(mini_project)


def test_javascript_links_are_dropped(mini_project: Path, tmp_path: Path) -> None:
    write_atom(
        mini_project,
        "body-main",
        "---\nkind: body\n---\n[click](javascript:alert(1)) and [ok](https://test.example/) "
        "and [sneaky](JaVaScRiPt:alert(2)) and <a href='javascript:x'>raw</a>\n",
    )
    record = render(mini_project, tmp_path)
    for channel in ("email", "web"):
        html = record["channels"][channel]["html"].lower()
        # Raw HTML is shown as text (escaped), so only a real attribute would be a hole.
        assert '<a href="javascript' not in html
        assert "<a href='javascript" not in html
        assert "&lt;a href=" in html
        assert 'href="https://test.example/"' in html


def test_template_producing_javascript_url_is_dropped(mini_project: Path, tmp_path: Path) -> None:
    write_atom(
        mini_project,
        "cta-shop",
        "---\nkind: cta\nlabel: Go\nurl: \"{{ 'javascript:alert(1)' if true else '' }}\"\n---\n",
    )
    record = render(mini_project, tmp_path)
    for channel in ("email", "web"):
        assert "javascript:" not in record["channels"][channel].get("html", "").lower()
    push = record["channels"]["push"]
    assert "javascript" not in json.dumps(push)


def test_ten_thousand_character_name(mini_project: Path, tmp_path: Path) -> None:
    name = "A" * 10_000
    record = render(mini_project, tmp_path, first_name=name)
    channels = record["channels"]
    assert channels["email"]["status"] == "rendered"
    assert any(w["code"] == "subject_too_long" for w in channels["email"]["warnings"])
    push = channels["push"]
    assert push["status"] == "rendered"
    assert len(json.dumps(push["apns"], ensure_ascii=False).encode()) <= 4096
    sms = channels["sms"]
    assert sms["status"] == "error"
    assert "segments" in sms["reason"]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("Zoë 🌊", "UCS-2"), ("שלום", "UCS-2"), ("مرحبا", "UCS-2"), ("Renée", "GSM-7")],
)
def test_emoji_and_rtl_names(name: str, encoding: str, mini_project: Path, tmp_path: Path) -> None:
    record = render(mini_project, tmp_path, first_name=name)
    channels = record["channels"]
    assert channels["email"]["status"] == "rendered"
    assert name in channels["email"]["subject"]
    assert channels["sms"]["encoding"] == encoding


def test_missing_attribute_without_default_is_a_channel_error(
    mini_project: Path, tmp_path: Path
) -> None:
    write_atom(
        mini_project,
        "headline-rude",
        '---\nkind: headline\npriority: 100\ntext: "Hi {{ profile.first_name }}"\n'
        'short: "Hi"\n---\n',
    )
    with_name = render(mini_project, tmp_path, first_name="Ann")
    assert with_name["channels"]["email"]["subject"] == "Hi Ann"
    without = render(mini_project, tmp_path)
    email = without["channels"]["email"]
    assert email["status"] == "error"
    assert "headline-rude.md" in email["reason"]
    assert "first_name" in email["reason"]
    assert "Hi ," not in json.dumps(without)


def test_sensitive_attribute_never_printed(mini_project: Path, tmp_path: Path) -> None:
    record = render(mini_project, tmp_path, medical_notes="SECRET-DIAGNOSIS")
    assert "SECRET-DIAGNOSIS" not in json.dumps(record)


def test_render_cli_bad_profile_names_file_and_line(mini_project: Path, tmp_path: Path) -> None:
    profile = tmp_path / "bad.yaml"
    profile.write_text("id: p-9\nlifetime_value: plenty\n", encoding="utf-8")
    result = run_cli("render", str(mini_project), "--campaign", "sale", "--profile", str(profile))
    assert result.returncode == 1
    assert f"{profile}:2: error: lifetime_value: expected number" in result.stderr
    assert "Traceback" not in result.stderr


def test_render_cli_prints_spec_json(mini_project: Path) -> None:
    result = run_cli(
        "render",
        str(mini_project),
        "-c",
        "sale",
        "-p",
        str(mini_project / "previews/profiles/vip.yaml"),
        "--at",
        AT,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) == {
        "profile_id",
        "campaign",
        "segments",
        "experiments",
        "decisions",
        "channels",
    }
    assert record["segments"] == sorted(record["segments"])
    assert set(record["channels"]) == {"email", "push", "sms", "web"}
    email = record["channels"]["email"]
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["headers"]["List-Unsubscribe"] == "<https://test.example/u/p-vip>"
    assert set(record["channels"]["push"]) >= {"title", "body", "apns", "fcm", "webpush"}
    assert record["channels"]["sms"]["text"].endswith("Reply STOP to opt out")


def test_channel_not_in_campaign_is_skipped(mini_project: Path) -> None:
    project = load_project(mini_project)
    renderer = Renderer(project).campaign("transactional-notice", at=AT)
    record = renderer.render_raw({"id": "p", "consent": {}}).to_json()
    assert record["channels"]["email"] == {
        "status": "skipped",
        "reason": "email is not in the campaign",
        "warnings": [],
    }
    # Transactional: rendered without consent, and no marketing opt-out footer.
    assert record["channels"]["sms"]["status"] == "rendered"
    assert "STOP" not in record["channels"]["sms"]["text"]


def test_web_layout_links_are_guarded_like_email(mini_project: Path, tmp_path: Path) -> None:
    (mini_project / "layouts" / "web" / "banner.html").write_text(
        '<a href="{{ profile.first_name }}">{{ slots.headline.text }}</a>'
        '<img src="{{ profile.first_name }}" alt="">',
        encoding="utf-8",
    )
    record = render(mini_project, tmp_path, first_name="javascript:alert(1)")
    html = record["channels"]["web"]["html"]
    assert 'href=""' in html
    assert 'src=""' in html


def test_unknown_template_variable_is_a_check_error(mini_project: Path) -> None:
    write_atom(
        mini_project,
        "headline-typo",
        '---\nkind: headline\ntext: "{{ slot.headline.short }}"\n---\n',
    )
    with pytest.raises(
        ProjectError, match=r"headline-typo\.md:3: error: text: unknown variable 'slot'"
    ):
        load_project(mini_project)
