"""Attacks on the time and memory of one record, each of which must cost that record (or
that channel) with a reason, never a worker or the run (issue 9, item 6).

Each test names the attack; the bounds are ``limits:`` in ``atomcast.yaml``
(:class:`atomcast.limits.Limits`). No test asserts on wall-clock time: a bound that did not
hold would show as a test that never ends, which the small limits set here make obvious.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.batch import BatchJob
from atomcast.conditions import check_condition, compile_condition, regex_hazard
from atomcast.errors import LimitError, ProjectError
from atomcast.limits import Limits, using
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.templating import compile_template
from tests.conftest import examples, first_fast, run_cli

AT = "2026-01-15T12:00:00Z"
CONSENT = {"email": True, "push": True, "sms": True, "web": True}
CHANNELS = ("email", "push", "sms", "web")


def set_limits(root: Path, **limits: Any) -> None:
    config = root / "atomcast.yaml"
    body = "".join(f"  {name}: {value}\n" for name, value in limits.items())
    config.write_text(config.read_text() + f"limits:\n{body}", encoding="utf-8")


def evil_headline(root: Path, template: str) -> None:
    """A headline every profile gets (priority 100), whose text is ``template``."""
    text = json.dumps(template)
    (root / "content_atoms" / "headline-evil.md").write_text(
        f"---\nkind: headline\npriority: 100\ntext: {text}\n---\n", encoding="utf-8"
    )


def profiles(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"p-{index}", "first_name": "Ann", "lifetime_value": 2000, "consent": CONSENT}
        for index in range(count)
    ]


# -- time: a template that runs away ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "template",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{% for a in range(100000) %}{% for b in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
        "{% set s = 'x' * 500000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "{% for a in range(99999) %}{% for b in range(99999) %}{% if a == b %}{% endif %}"
        "{% endfor %}{% endfor %}",
    ],
    ids=["nested-range", "nested-range-printing", "nested-string-loop", "nested-compare"],
)
def test_a_runaway_loop_costs_its_channel_and_the_batch_goes_on(
    template: str, mini_project: Path
) -> None:
    set_limits(mini_project, record_timeout=1)
    evil_headline(mini_project, template)
    job = BatchJob(mini_project, "sale", at=AT)
    outcomes = list(job.render_many(profiles(3)))
    assert [outcome.ok for outcome in outcomes] == [True, True, True]
    for outcome in outcomes:
        channels = outcome.record["channels"]
        # The first channel ran out of time; the others were not started, and say why.
        assert channels["email"]["status"] == "error"
        assert "limits.record_timeout" in channels["email"]["reason"]
        for name in ("push", "sms", "web"):
            assert channels[name]["status"] == "error"
            assert "time ran out in email" in channels[name]["reason"]


@pytest.mark.slow
def test_a_runaway_record_in_a_real_batch_run_is_counted_and_the_rest_render(
    mini_project: Path, tmp_path: Path
) -> None:
    # Roomy enough for a cold worker's first render (MJML compiles the layout then).
    set_limits(mini_project, record_timeout=3)
    (mini_project / "content_atoms" / "headline-evil.md").write_text(
        "---\nkind: headline\npriority: 100\nsegments: [big_vip]\ntext: "
        '"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"'
        "\n---\n",
        encoding="utf-8",
    )
    rows = profiles(4)
    rows[1]["lifetime_value"] = 9000  # the one profile in big_vip
    source = tmp_path / "profiles.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "atomcast", "batch", str(mini_project), "-c", "sale"),
            *("-p", str(source), "-o", str(out), "-w", "1", "--at", AT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rendered"] == 4
    records = [json.loads(line) for line in (out / "rendered.jsonl").read_text().splitlines()]
    statuses = {r["profile_id"]: r["channels"]["email"]["status"] for r in records}
    assert statuses == {"p-0": "rendered", "p-1": "error", "p-2": "rendered", "p-3": "rendered"}


# -- size: a template that builds a huge value ------------------------------------------------


SIZE_ATTACKS = [
    "{{ 'x' * 10**9 }}",
    "{{ ['x'] * 10**9 }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '%s' % ('x' * 10**9) }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ '{:{}}'.format('x', 10**9) }}",
    "{{ range(100000) | join('x' * 1000) }}",
    "{{ ('x' * 1000).join(range(100000) | map('string')) }}",
    "{{ 'abcdefghij'.replace('', 'y' * 100000) }}",
    "{{ 'x' | center(10**9) }}",
    "{{ 'x' | indent(10**9) }}",
    "{{ ('a' * 100000) | wordwrap(1, wrapstring='y' * 100) }}",
    "{{ '%s' | format('x') | center(999999999) }}",
    "{{ 9 ** 100000000 }}",
    "{{ ('x\t' * 100000).expandtabs(1000) }}",
    "{{ '%*d' | format(999999999, 1) }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ 'x'.rjust(10**9) }}",
    "{{ lipsum(10**6) }}",
    "{{ range(3) | batch(10**9) | list }}",
    "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s | length }}",
    "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}{% endmacro %}"
    "{{ m() | length }}",
    "{% set big %}{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}{% endset %}"
    "{{ big | length }}",
]


@pytest.mark.parametrize("template", SIZE_ATTACKS)
def test_a_huge_value_is_refused_before_it_is_built(template: str, mini_project: Path) -> None:
    set_limits(mini_project, max_output_bytes=1_000_000, record_timeout=30)
    evil_headline(mini_project, template)
    renderer = Renderer(load_project(mini_project)).campaign("sale", at=AT)
    record = renderer.render_raw(profiles(1)[0]).to_json()
    for channel in CHANNELS:
        output = record["channels"][channel]
        assert output["status"] == "error", (channel, str(output)[:200])
        assert "headline-evil.md" in output["reason"]
        assert "limits." in output["reason"]


@settings(max_examples=examples(60), deadline=None)
@given(
    text=st.text(min_size=1, max_size=50),
    count=st.integers(min_value=0, max_value=10**12),
    limit=st.integers(min_value=1024, max_value=100_000),
)
def test_repetition_renders_exactly_or_is_refused(text: str, count: int, limit: int) -> None:
    template = compile_template("{{ text * count }}", "text")
    with using(Limits(max_output_bytes=limit)):
        if len(text) * count <= limit:
            assert template.render(text=text, count=count) == text * count
        else:
            with pytest.raises(Exception, match=r"limits\.max_output_bytes"):
                template.render(text=text, count=count)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 3 }}|{{ '%05.1f' % 3.14159 }}|{{ '{:>6}'.format('ab') }}",
        "{{ [1, 2, 3] | join(', ') }}|{{ 'Hi' | center(8) }}|{{ 2 ** 10 }}",
        "{{ 'a-b' | replace('-', '+') }}|{{ 'x' ~ 'y' }}|{{ 7 % 3 }}|{{ [1] + [2] }}",
        "{{ 'one two three' | wordwrap(5) | length }}|{{ 'a\nb' | indent(2) }}",
        "{{ {'a': 1} | tojson(2) | length }}|{{ [[1], [2]] | map('first') | sum }}",
        # Large numbers that are only printed are not widths.
        "{{ '%d' | format(12000000) }}|{{ '{:,}'.format(123456789012) }}|{{ 10 ** 12 }}",
        "{{ 'Balance: %d' % 1234567890 }}|{{ [12000000] | max }}|{{ 3000000000 | round }}",
    ],
)
def test_ordinary_templates_print_as_before(template: str) -> None:
    """The bounds change nothing under them: Jinja without them prints the same."""
    from jinja2 import Environment

    plain = Environment(trim_blocks=True, lstrip_blocks=True).from_string(template).render()
    assert compile_template(template, "text").render() == plain


# -- $regex: catastrophic backtracking ----------------------------------------------------------


CATASTROPHIC = ["^(a+)+$", "(a|a)*", "(a|aa)+$", "^(\\w+\\s?)*$", "(x+x+)+y", "(?:a|b|ab)*$"]
SAFE = [
    "^(Portland|Camden|Bar Harbor|Halifax)$",
    "^p-\\d+$",
    "^[a-z]+(-[a-z]+)*$",
    "^(\\d+,)*\\d+$",
    "([a-z]+\\.)+com",
    "(ab|ac)+",
]


@pytest.mark.parametrize("pattern", first_fast(CATASTROPHIC))
def test_check_rejects_a_catastrophic_regex_at_its_line(pattern: str, mini_project: Path) -> None:
    config = mini_project / "atomcast.yaml"
    text = config.read_text().replace(
        "  cart_abandoner: {cart_total: {$gt: 0}}\n",
        "  cart_abandoner: {cart_total: {$gt: 0}}\n"
        f"  named:\n    first_name: {{$regex: {json.dumps(pattern)}}}\n",
    )
    config.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  named:") + 2
    with pytest.raises(ProjectError) as caught:
        load_project(mini_project)
    found = [str(p) for p in caught.value.problems]
    assert any(
        p.startswith(f"atomcast.yaml:{line}: error:") and "exponential time" in p for p in found
    ), found
    checked = run_cli("check", str(mini_project))
    assert checked.returncode == 1
    assert f"atomcast.yaml:{line}: error:" in checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr


@pytest.mark.parametrize("pattern", SAFE)
def test_check_accepts_ordinary_regexes(pattern: str, mini_project: Path) -> None:
    assert regex_hazard(pattern) is None
    schema = load_project(mini_project).schema
    assert check_condition({"first_name": {"$regex": pattern}}, schema, []) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"name": {"$regex": "(a|aa)+$"}},
        {"name": {"$regexi": "(A|AA)+$"}},
        {"name": {"$not": {"$regex": "(a|aa)+$"}}},
        {"tags": {"$elemMatch": {"$regex": "(a|aa)+$"}}},
        {"$or": [{"x": 1}, {"name": {"$notRegex": "(a|aa)+$"}}]},
    ],
)
def test_a_regex_that_backtracks_on_a_value_is_bounded(condition: dict[str, Any]) -> None:
    """Past check (a condition given through the API), the match itself is bounded: the
    record fails with a reason instead of spinning."""
    compiled = compile_condition(condition)
    compiled.fn({"name": "aa", "tags": ["aa"]}, set())  # a short value matches at once
    hostile = "a" * 60 + "b"
    with using(Limits(regex_timeout=0.05)), pytest.raises(LimitError, match="regex_timeout"):
        compiled.fn({"name": hostile, "tags": [hostile]}, set())


@pytest.mark.slow
def test_a_persona_whose_segments_run_away_is_a_check_warning(mini_project: Path) -> None:
    set_limits(mini_project, record_timeout=0.2)
    # Many $in tests over a long list: slow, and not a pattern check can refuse.
    many = ", ".join(f"{{interests: {{$all: [x{i}, y{i}]}}}}" for i in range(4000))
    config = mini_project / "atomcast.yaml"
    config.write_text(
        config.read_text().replace(
            "  vip: {lifetime_value: {$gte: 1000}}\n",
            f"  vip: {{lifetime_value: {{$gte: 1000}}}}\n  busy: {{$or: [{many}]}}\n",
        ),
        encoding="utf-8",
    )
    persona = mini_project / "previews" / "profiles" / "long.yaml"
    persona.parent.mkdir(parents=True, exist_ok=True)
    persona.write_text(
        "id: p-long\ninterests: [" + ", ".join(f"i{n}" for n in range(40000)) + "]\n",
        encoding="utf-8",
    )
    from atomcast.check import check_project

    problems = [str(p) for p in check_project(mini_project)]
    assert not any(": error:" in p for p in problems), problems
    assert any(
        p.startswith("previews/profiles/long.yaml:1: warning:") and "record_timeout" in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("limits:\n  record_timeout: 0\n", "record_timeout"),
        ("limits:\n  max_output_bytes: 10\n", "max_output_bytes"),
        ("limits:\n  regex_timeout: -1\n", "regex_timeout"),
        ("limits:\n  timeout: 3\n", "timeout"),
        ("limits: fast\n", "limits"),
    ],
)
def test_bad_limits_are_errors_at_their_line(section: str, words: str, mini_project: Path) -> None:
    config = mini_project / "atomcast.yaml"
    text = config.read_text() + section
    config.write_text(text, encoding="utf-8")
    first = len(text.splitlines()) - len(section.splitlines()) + 1
    with pytest.raises(ProjectError) as caught:
        load_project(mini_project)
    found = [str(p) for p in caught.value.problems]
    assert any(
        p.startswith("atomcast.yaml:")
        and int(p.split(":")[1]) >= first
        and ": error:" in p
        and words in p
        for p in found
    ), found


def test_limits_from_atomcast_yaml_reach_the_renderer(mini_project: Path) -> None:
    set_limits(mini_project, record_timeout=7, max_output_bytes=4096, regex_timeout=0.5)
    limits = Renderer(load_project(mini_project)).campaign("sale", at=AT).limits
    assert limits == Limits(record_timeout=7, max_output_bytes=4096, regex_timeout=0.5)
    evil_headline(mini_project, "{{ 'x' * 5000 }}")
    record = Renderer(load_project(mini_project)).campaign("sale", at=AT)
    email = record.render_raw(profiles(1)[0]).to_json()["channels"]["email"]
    assert email["status"] == "error"
    assert "4,096" in email["reason"]


@pytest.mark.slow
def test_a_row_that_runs_out_of_time_in_the_preview_is_error_cells(mini_project: Path) -> None:
    """The preview matrix renders every other row; the runaway persona's cells say why."""
    import httpx

    from atomcast.preview.background import BackgroundServer

    set_limits(mini_project, record_timeout=0.2)
    many = ", ".join(f"{{interests: {{$all: [x{i}, y{i}]}}}}" for i in range(4000))
    config = mini_project / "atomcast.yaml"
    config.write_text(
        config.read_text().replace(
            "  vip: {lifetime_value: {$gte: 1000}}\n",
            f"  vip: {{lifetime_value: {{$gte: 1000}}}}\n  busy: {{$or: [{many}]}}\n",
        ),
        encoding="utf-8",
    )
    (mini_project / "previews" / "profiles" / "long.yaml").write_text(
        "id: p-long\ninterests: [" + ", ".join(f"i{n}" for n in range(40000)) + "]\n",
        encoding="utf-8",
    )
    with BackgroundServer(mini_project, default_at="2026-07-15T12:00:00Z") as server:
        answer = httpx.get(server.url + "api/matrix", params={"campaign": "sale"}, timeout=60)
    assert answer.status_code == 200, answer.text
    cells = answer.json()["cells"]
    long_cells = [c for c in cells if c["row"] == "persona:long"]
    assert long_cells
    assert all(c["status"] == "error" and "record_timeout" in c["reason"] for c in long_cells)
    assert any(c["status"] == "rendered" for c in cells if c["row"] != "persona:long")
