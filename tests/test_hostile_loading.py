"""Hostile project files: the attacks ``check`` and the loader withstand (issue 9, 10/12/14).

Each test is one class of attack, tried in several variants and in every place a project
holds YAML (atom and layout front matter, push layouts, personas, ``atomcast.yaml``). The
promise is always the same: a ``PATH:LINE: error:`` line that sends the editor to the
problem, bounded time and memory, never a traceback, and nothing read from outside the
project.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.check import check_project
from atomcast.errors import NoProjectError, Problem, printable
from atomcast.paths import confined, inside_project, name_problem
from atomcast.project import collect_problems, load_project
from atomcast.yamlsource import MAX_DEPTH, MAX_NODES, YamlSyntaxError, load_yaml
from tests.conftest import MINI, copy_project, examples, fast_diagonal, first_fast, run_cli


def errors_in(root: Path, path: str) -> list[Problem]:
    return [p for p in check_project(root) if p.is_error and p.path == path]


def atomcast(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", *args],
        capture_output=True,
        text=True,
        check=False,
        input=stdin,
    )


# -- 10. YAML bombs, recursive aliases, deep nesting ------------------------------------------


def laughs(levels: int = 12, width: int = 10) -> str:
    """A "billion laughs": ``width ** levels`` values from a few hundred bytes."""
    lines = ["l0: &l0 [lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


ATTACKS = {
    "billion-laughs": (laughs(), "alias bomb"),
    "merge-key-bomb": (
        "m0: &m0 {k: 1}\n"
        + "".join(
            f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}\n" for i in range(1, 12)
        ),
        "alias bomb",
    ),
    "bomb-as-mapping-key": (laughs(8) + "? *l7\n: 1\n", "alias bomb"),
    "recursive-sequence": ("r: &r [1, *r]\n", "recursive alias"),
    "recursive-mapping": ("r: &r {again: *r}\n", "recursive alias"),
    "recursive-merge": ("r: &r {<<: *r}\n", "recursive alias"),
    "recursive-redefined-anchor": ("a: &r 1\nb: &r [*r]\n", "recursive alias"),
    "deep-flow-sequence": ("deep: " + "[" * 100_000 + "]" * 100_000 + "\n", "levels deep"),
    "deep-flow-mapping": ("deep: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n", "levels deep"),
    "deep-block-mapping": (
        "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
        "levels deep",
    ),
}


def _plant(root: Path, where: str, yaml_text: str) -> tuple[str, int]:
    """Put ``yaml_text`` where a project reads YAML; the file and the line its YAML starts."""
    if where == "atom":
        (root / "content_atoms" / "evil.md").write_text(
            f"---\nkind: headline\ntext: Hi\n{yaml_text}---\n"
        )
        return "content_atoms/evil.md", 4
    if where == "email-layout":
        path = root / "layouts" / "email" / "promo.mjml"
        text = path.read_text()
        path.write_text(text.replace("---\n", f"---\n{yaml_text}", 1))
        return "layouts/email/promo.mjml", 2
    if where == "push-layout":
        path = root / "layouts" / "push" / "promo.yaml"
        path.write_text(path.read_text() + yaml_text)
        return "layouts/push/promo.yaml", 4
    if where == "persona":
        path = root / "previews" / "profiles" / "vip.yaml"
        path.write_text(path.read_text() + yaml_text)
        return "previews/profiles/vip.yaml", 8
    path = root / "atomcast.yaml"
    text = path.read_text()
    path.write_text(yaml_text + text)
    return "atomcast.yaml", 1


@pytest.mark.parametrize(
    ("where", "attack"),
    fast_diagonal(
        sorted(ATTACKS), ["atom", "email-layout", "push-layout", "persona", "atomcast.yaml"]
    ),
)
def test_yaml_attacks_end_as_one_error_at_their_line(
    attack: str, where: str, mini_project: Path
) -> None:
    text, message = ATTACKS[attack]
    path, first_line = _plant(mini_project, where, text)
    tracemalloc.start()
    try:
        # Loading is where YAML is parsed; the full check adds MJML and is tried below.
        problems = [p for p in collect_problems(mini_project)[1] if p.path == path]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    matching = [p for p in problems if message in p.message]
    assert matching, [str(p) for p in problems]
    assert matching[0].line >= first_line
    # Bounded memory: the whole check, bomb included, stays far below what expansion needs.
    assert peak < 64 * 1024 * 1024


def test_yaml_attack_through_the_cli_prints_one_line_without_traceback(
    mini_project: Path,
) -> None:
    _plant(mini_project, "atom", ATTACKS["billion-laughs"][0])
    _plant(mini_project, "atomcast.yaml", ATTACKS["deep-flow-sequence"][0])
    result = atomcast("check", str(mini_project))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "RecursionError" not in result.stdout + result.stderr
    assert "MemoryError" not in result.stdout + result.stderr
    assert "atomcast.yaml:1: error: malformed YAML" not in result.stdout
    assert "atomcast.yaml:1: error: nested more than 64 levels deep" in result.stdout
    assert "content_atoms/evil.md:" in result.stdout


@settings(max_examples=examples(60), deadline=None)
@given(depth=st.integers(min_value=1, max_value=3 * MAX_DEPTH), flow=st.booleans())
def test_nesting_is_refused_exactly_beyond_the_limit(depth: int, flow: bool) -> None:
    if flow:
        text = "[" * depth + "]" * depth
    else:
        text = "".join("  " * i + "k:\n" for i in range(depth - 1)) + "  " * (depth - 1) + "k: 1\n"
    if depth <= MAX_DEPTH:
        assert load_yaml(text).data is not None
    else:
        with pytest.raises(YamlSyntaxError, match="levels deep"):
            load_yaml(text)


@settings(max_examples=examples(60), deadline=None)
@given(levels=st.integers(min_value=1, max_value=9), width=st.integers(min_value=1, max_value=9))
def test_aliases_are_accepted_until_they_expand_too_far(levels: int, width: int) -> None:
    text = laughs(levels, width)
    # l0 holds one value; each level repeats the one below `width` times; all are kept.
    sizes = [2]
    for _ in range(1, levels):
        sizes.append(1 + width * sizes[-1])
    expanded = sum(sizes)
    if expanded <= MAX_NODES // 2:
        assert len(load_yaml(text).data) == levels
    elif expanded > 2 * MAX_NODES:
        with pytest.raises(YamlSyntaxError, match="alias bomb"):
            load_yaml(text)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("[]{}&*!|>-?:,'\"#%@` \n\tab01<=~.\\\x00\x85\ufeff")),
        max_size=120,
    )
)
def test_any_text_is_yaml_or_a_yaml_syntax_error(text: str) -> None:
    """The only exception load_yaml raises, whatever the text, is YamlSyntaxError."""
    line = 1
    try:
        load_yaml(text)
    except YamlSyntaxError as exc:
        line = exc.line
    assert line >= 1


def test_a_key_spelled_out_overrides_a_merged_one_as_in_yaml() -> None:
    """``<<: *defaults`` then one of its keys again: the mapping's own value wins, as YAML
    merge keys mean (and PyYAML reads it); the line is the one spelled out."""
    text = "defaults: &d\n  a: 1\n  c: 3\nitem:\n  <<: *d\n  a: 2\n"
    loaded = load_yaml(text)
    assert (
        loaded.data
        == yaml.safe_load(text)
        == {
            "defaults": {"a": 1, "c": 3},
            "item": {"a": 2, "c": 3},
        }
    )
    assert loaded.lines[("item", "a")] == 6
    assert loaded.lines[("item", "c")] == 3
    several = "x: &x {a: 1, b: 1}\ny: &y {b: 2, c: 2}\nz:\n  <<: [*x, *y]\n  c: 3\n"
    assert load_yaml(several).data == yaml.safe_load(several)
    # An alias visits a mapping again, already flattened; a merge flattens its sources.
    for again in (
        "b: &b {a: 1}\nm: &m\n  <<: *b\n  a: 2\ntop: *m\n",
        "b: &b {a: 1}\nx: {<<: &m {<<: *b, a: 2}, c: 1}\ny: *m\nz: {<<: *m, a: 3}\n",
    ):
        assert load_yaml(again).data == yaml.safe_load(again)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", 3),
        ("d: &d {k: 1}\ne:\n  <<: *d\n  k: 2\n  k: 3\n", 5),
    ],
)
def test_a_key_spelled_out_twice_is_a_duplicate_at_its_second_line(text: str, line: int) -> None:
    with pytest.raises(YamlSyntaxError, match="duplicate key") as raised:
        load_yaml(text)
    assert raised.value.line == line


MINI_CONFIG_LINES = (MINI / "atomcast.yaml").read_text().splitlines()


@settings(max_examples=examples(25), deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(MINI_CONFIG_LINES) - 1),
    replacement=st.sampled_from(["", "  x: [", "oops: 1", "  - 3", "    bad: {type: numbr}"]),
)
def test_any_broken_config_line_still_gives_problems_not_exceptions(
    index: int, replacement: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = copy_project(MINI, tmp_path_factory.mktemp("cfg"))
    lines = list(MINI_CONFIG_LINES)
    lines[index] = replacement
    (root / "atomcast.yaml").write_text("\n".join(lines) + "\n")
    problems = check_project(root)
    assert all(p.line >= 1 for p in problems)


def test_a_huge_file_is_refused_unread(mini_project: Path) -> None:
    huge = mini_project / "content_atoms" / "huge.md"
    huge.write_bytes(b"---\nkind: headline\ntext: hi\n---\n" + b"x" * (5 * 1024 * 1024))
    problems = errors_in(mini_project, "content_atoms/huge.md")
    assert [p.message for p in problems] == ["larger than 4 MiB: not read"]


@pytest.mark.parametrize(
    ("name", "shown"),
    first_fast(
        [
            ("bad\nname.md", "content_atoms/bad\\nname.md"),
            ("bell\x07.md", "content_atoms/bell\\x07.md"),
            ("\x1b[31mred.md", "content_atoms/\\x1b[31mred.md"),
            ("rtl\u202egpj.md", "content_atoms/rtl\\u202egpj.md"),
            ("cr\rhere.md", "content_atoms/cr\\rhere.md"),
        ]
    ),
)
def test_control_characters_in_file_names_are_escaped_on_one_line(
    name: str, shown: str, mini_project: Path
) -> None:
    (mini_project / "content_atoms" / name).write_text("---\nkind: headline\ntext: [oops\n---\n")
    result = run_cli("check", str(mini_project))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    ours = [line for line in lines if line.startswith(shown + ":")]
    assert ours, result.stdout
    assert all(line.isprintable() for line in lines)
    # Every line is one whole problem: nothing spills onto a line of its own.
    assert all(": error: " in line or ": warning: " in line for line in lines)


def test_printable_escapes_only_what_hides_or_breaks_a_line() -> None:
    assert printable("plain café 🙂 path/x.md") == "plain café 🙂 path/x.md"
    assert printable("a\nb\tc\x00d\u2028e\u202ef") == "a\\nb\\tc\\x00d\\u2028e\\u202ef"


# -- 12. Nothing outside the project -----------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the project with files an attacker would like read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    # Malformed on purpose: had the loader read it, a "malformed YAML" error would show.
    (folder / "secret.md").write_text("---\nkind: headline\ntext: [SECRET\n---\n")
    (folder / "secret.yaml").write_text("id: [SECRET\n")
    (folder / "secret.css").write_text("body { color: red }\n")
    (folder / "secret.txt").write_text("{{ SECRET\n")
    (folder / "atoms").mkdir()
    (folder / "atoms" / "a.md").write_text("---\nkind: headline\ntext: [SECRET\n---\n")
    return folder


def _outside_errors(root: Path) -> list[str]:
    problems = check_project(root)
    assert not [p for p in problems if "malformed YAML" in p.message], "an outside file was read"
    return [str(p) for p in problems if "resolves outside the project" in p.message]


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("content_atoms/leak.md", "secret.md"),
        ("content_atoms/sub", "atoms"),
        ("layouts/sms/leak.txt", "secret.txt"),
        ("previews/profiles/leak.yaml", "secret.yaml"),
        ("previews/web.css", "secret.css"),
    ],
)
def test_symlinks_out_of_the_project_are_errors_and_never_read(
    link: str, target: str, mini_project: Path, outside: Path
) -> None:
    (mini_project / link).symlink_to(outside / target)
    found = _outside_errors(mini_project)
    assert any(line.startswith(f"{link}:1: error:") for line in found), found


def test_a_whole_folder_linked_outside_is_one_error(mini_project: Path, outside: Path) -> None:
    import shutil

    shutil.rmtree(mini_project / "previews" / "profiles")
    (mini_project / "previews" / "profiles").symlink_to(outside)
    found = _outside_errors(mini_project)
    assert found == [
        f"previews/profiles:1: error: the previews/profiles folder resolves outside the project "
        f"(to {outside.resolve()}): not read; project files must lie inside the project folder"
    ]


def test_a_symlink_inside_the_project_is_fine(mini_project: Path) -> None:
    (mini_project / "content_atoms" / "alias.md").symlink_to(
        mini_project / "content_atoms" / "headline-fr.md"
    )
    problems = [p for p in check_project(mini_project) if "outside" in p.message]
    assert problems == []


@pytest.mark.parametrize(
    "assets_dir", ["/tmp/elsewhere", "../sibling", "a/../../up", "link-out/renditions"]
)
def test_assets_dir_outside_the_project_is_an_error_at_its_line(
    assets_dir: str, mini_project: Path, outside: Path
) -> None:
    (mini_project / "link-out").symlink_to(outside)
    config = mini_project / "atomcast.yaml"
    config.write_text(config.read_text() + f"assets:\n  dir: {assets_dir}\n")
    line = len(config.read_text().splitlines())
    errors = [p for p in errors_in(mini_project, "atomcast.yaml") if "assets.dir" in p.message]
    assert [(p.line, "outside the project" in p.message) for p in errors] == [(line, True)]


def test_image_src_through_a_symlink_out_is_refused(mini_project: Path, outside: Path) -> None:
    (outside / "x.png").write_bytes(b"\x89PNG not really")
    (mini_project / "content_atoms" / "pic.png").symlink_to(outside / "x.png")
    (mini_project / "content_atoms" / "hero.md").write_text(
        "---\nkind: image\nalt: A hero\nsrc: pic.png\n---\n"
    )
    errors = errors_in(mini_project, "content_atoms/hero.md")
    assert [(p.line, p.message) for p in errors] == [(4, "image src points outside the project")]


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "bell\x07", ".hidden", "with space", "x" * 200, "a..b"]
)
def test_campaign_names_that_would_become_unsafe_paths_are_errors(
    name: str, mini_project: Path
) -> None:
    config = mini_project / "atomcast.yaml"
    text = config.read_text().replace("  transactional-notice:", f"  {name!r}:".replace("'", '"'))
    text = text.replace('"bell\x07"', '"bell\\a"')
    config.write_text(text)
    line = text.splitlines().index(next(t for t in text.splitlines() if t.startswith('  "'))) + 1
    errors = [p for p in errors_in(mini_project, "atomcast.yaml") if "campaign name" in p.message]
    assert [p.line for p in errors] == [line], [str(p) for p in errors]


@pytest.mark.parametrize(
    ("file_name", "front", "line"),
    [
        ("ok-name.md", "id: a..b\n", 3),
        ("with space.md", "", 1),
        ("a..b.md", "", 1),
    ],
)
def test_atom_ids_that_would_become_unsafe_paths_are_errors(
    file_name: str, front: str, line: int, mini_project: Path
) -> None:
    (mini_project / "content_atoms" / file_name).write_text(
        f"---\nkind: headline\n{front}text: Hi\n---\n"
    )
    errors = errors_in(mini_project, f"content_atoms/{file_name}")
    assert [(p.line, "atom id" in p.message) for p in errors] == [(line, True)]


@settings(max_examples=examples(200))
@given(
    parts=st.lists(
        st.sampled_from(["..", ".", "a", "b", "link", "", "/abs", "c/../.."]), max_size=6
    )
)
def test_confined_never_returns_a_path_outside(parts: list[str], tmp_path_factory: Path) -> None:
    root = Path(__file__).resolve().parent / "fixtures" / "mini"
    candidate = Path(*parts) if parts else Path()
    result = confined(root, candidate)
    if result is not None:
        assert result.is_relative_to(root.resolve())
        assert inside_project(root, candidate)
    else:
        assert not inside_project(root, candidate)


@given(st.text(max_size=40))
def test_a_safe_name_is_one_harmless_path_component(name: str) -> None:
    if name_problem(name) is None:
        assert "/" not in name
        assert "\\" not in name
        assert ".." not in name
        assert not name.startswith(".")
        assert name.isprintable()
        assert Path(name).name == name


# -- 14. Silent failures a new user hit --------------------------------------------------------


def test_marketing_sms_without_footer_is_a_compliance_error(mini_project: Path) -> None:
    config = mini_project / "atomcast.yaml"
    text = config.read_text().replace('  sms_footer: "Reply STOP to opt out"\n', "")
    config.write_text(text)
    errors = [p for p in errors_in(mini_project, "atomcast.yaml") if "compliance" in p.message]
    sms_line = text.splitlines().index("      sms: {layout: promo, max_segments: 2}") + 1
    # The transactional campaign's SMS needs no opt-out; the marketing one does.
    assert [(p.line, "campaign 'sale'" in p.message) for p in errors] == [(sms_line, True)]


@pytest.mark.parametrize(
    ("use", "message"),
    [
        ("{{ brand.background }}", "the brand has no field 'background'"),
        ("{{ brand.nmae }}", "the brand has no field 'nmae' (did you mean 'name'?)"),
        ("{{ brand.colors.background }}", "brand.colors has no 'background'"),
        ("{{ brand['logo'] }}", "the brand has no field 'logo'"),
    ],
)
def test_a_brand_field_the_brand_lacks_is_an_error_at_its_line(
    use: str, message: str, mini_project: Path
) -> None:
    layout = mini_project / "layouts" / "web" / "banner.html"
    layout.write_text(layout.read_text() + f"\n<p>\n{use}</p>\n")
    line = len(layout.read_text().splitlines())
    errors = errors_in(mini_project, "layouts/web/banner.html")
    assert [(p.line, message in p.message) for p in errors] == [(line, True)], errors


def test_brand_fields_in_atoms_are_checked_too(mini_project: Path) -> None:
    atom = mini_project / "content_atoms" / "headline-generic.md"
    atom.write_text(atom.read_text().replace("the sale is on", "{{ brand.slogan }}"))
    errors = errors_in(mini_project, "content_atoms/headline-generic.md")
    assert ["the brand has no field 'slogan'" in p.message for p in errors] == [True]


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("fr_FR", "locale 'fr_FR' is not a BCP 47 tag (did you mean 'fr-FR'?)"),
        ("french", "locale 'french' is not a BCP 47 tag"),
        ("en-", "locale 'en-' is not a BCP 47 tag"),
        ("", "locale '' is not a BCP 47 tag"),
    ],
)
def test_a_locale_that_is_not_bcp47_is_an_error(
    locale: str, message: str, mini_project: Path
) -> None:
    atom = mini_project / "content_atoms" / "headline-fr.md"
    atom.write_text(atom.read_text().replace("locale: fr", f"locale: '{locale}'"))
    errors = errors_in(mini_project, "content_atoms/headline-fr.md")
    assert [(p.line, message in p.message) for p in errors] == [(3, True)], errors


def test_config_locales_and_persona_locales_are_checked(mini_project: Path) -> None:
    config = mini_project / "atomcast.yaml"
    config.write_text(config.read_text().replace("fr-CA: [fr, en-US]", "fr_CA: [fr, en_US]"))
    errors = [p for p in errors_in(mini_project, "atomcast.yaml") if "BCP 47" in p.message]
    assert {p.line for p in errors} == {9}
    assert len(errors) == 2
    persona = mini_project / "previews" / "profiles" / "vip.yaml"
    persona.write_text(persona.read_text().replace("locale: en-US", "locale: en_US"))
    warnings = [p for p in check_project(mini_project) if p.path == "previews/profiles/vip.yaml"]
    assert [(p.line, p.severity) for p in warnings] == [(4, "warning")]


def test_an_unreachable_locale_is_still_a_warning(mini_project: Path) -> None:
    atom = mini_project / "content_atoms" / "headline-fr.md"
    atom.write_text(atom.read_text().replace("locale: fr", "locale: de-AT"))
    found = [p for p in check_project(mini_project) if p.path == "content_atoms/headline-fr.md"]
    assert [(p.line, p.severity) for p in found if "fallback chain" in p.message] == [
        (3, "warning")
    ]


@pytest.mark.parametrize(
    "value", ["/shop", "http://test.example/shop", "shop/{{ slots.cta.url }}", "//cdn.example/x"]
)
def test_relative_or_http_push_urls_are_errors(value: str, mini_project: Path) -> None:
    layout = mini_project / "layouts" / "push" / "promo.yaml"
    layout.write_text(layout.read_text().replace('url: "{{ slots.cta.url }}"', f'url: "{value}"'))
    errors = errors_in(mini_project, "layouts/push/promo.yaml")
    assert [(p.line, "not an absolute https URL" in p.message) for p in errors] == [(3, True)]


def test_local_images_in_push_without_an_https_base_url_warn(mini_project: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 20), "red").save(mini_project / "content_atoms" / "hero.png")
    (mini_project / "content_atoms" / "hero.md").write_text(
        "---\nkind: image\nalt: A hero\nsrc: hero.png\n---\n"
    )
    warnings = [p for p in check_project(mini_project) if "push needs absolute https" in p.message]
    assert [(p.path, p.line) for p in warnings] == [("atomcast.yaml", 27)]
    config = mini_project / "atomcast.yaml"
    config.write_text(config.read_text() + "assets:\n  base_url: https://cdn.test.example/a/\n")
    assert not [p for p in check_project(mini_project) if "push needs" in p.message]


@pytest.mark.parametrize(
    "head",
    [
        '<mj-font name="Raleway" href="https://fonts.googleapis.com/css?family=Raleway" />',
        "<mj-style>@import url('https://fonts.example/x.css');</mj-style>",
        '<mj-raw><link href="https://fonts.googleapis.com/css2?family=Inter" rel="stylesheet">'
        "</mj-raw>",
    ],
)
def test_mjml_that_pulls_external_fonts_warns_at_the_line(head: str, mini_project: Path) -> None:
    layout = mini_project / "layouts" / "email" / "promo.mjml"
    text = layout.read_text().replace("<mjml>\n", f"<mjml>\n<mj-head>\n{head}\n</mj-head>\n")
    layout.write_text(text)
    found = [p for p in check_project(mini_project) if "external font" in p.message]
    line = text.splitlines().index(head) + 1
    assert [(p.path, p.line, p.severity) for p in found] == [
        ("layouts/email/promo.mjml", line, "warning")
    ]


def test_mjml_default_font_is_named_in_the_warning(mini_project: Path) -> None:
    found = [p for p in check_project(mini_project) if "external font" in p.message]
    assert len(found) == 1
    assert "Google Fonts link for 'Ubuntu'" in found[0].message
    layout = mini_project / "layouts" / "email" / "promo.mjml"
    layout.write_text(
        layout.read_text().replace(
            "<mjml>\n",
            '<mjml>\n<mj-head><mj-attributes><mj-all font-family="Arial" />'
            "</mj-attributes></mj-head>\n",
        )
    )
    assert not [p for p in check_project(mini_project) if "external font" in p.message]


def test_a_duplicate_atom_id_is_reported_at_both_files(mini_project: Path) -> None:
    (mini_project / "content_atoms" / "zz-copy.md").write_text(
        "---\nkind: cta\nlabel: Again\nid: cta-shop\nurl: https://x.example\n---\n"
    )
    (mini_project / "content_atoms" / "cta-shop.md").write_text(
        "---\nkind: cta\nid: cta-shop\nlabel: Shop\nurl: https://x.example/shop\n---\n"
    )
    found = sorted(
        (p.path, p.line) for p in check_project(mini_project) if "duplicate atom id" in p.message
    )
    assert found == [("content_atoms/cta-shop.md", 3), ("content_atoms/zz-copy.md", 4)]


@pytest.mark.parametrize(
    ("find", "replace", "config_line"),
    [
        ("  from_email: hi@test.example\n", "", 1),  # brand broken
        ("  cart_total: {type: number}", "  cart_total: {type: numbr}", 15),  # profile broken
        ("hero: {kinds: [image]}", "hero: {kinds: [picture]}", 33),  # one campaign broken
        ("locales:\n", "bogus_section: 1\nlocales:\n", 7),  # unknown top-level key
        ("  first_name: {type: string}", "  first name: {type: string}", 10),  # bad name
        ("  default: en-US", "  default: [en-US]", 8),  # locales broken
        ("campaigns:\n", "campaigns: 3\nx:\n", 23),  # campaigns not a mapping
    ],
)
def test_a_faulty_config_still_checks_atoms_layouts_and_personas(
    find: str, replace: str, config_line: int, mini_project: Path
) -> None:
    config = mini_project / "atomcast.yaml"
    config.write_text(config.read_text().replace(find, replace, 1))
    atom = mini_project / "content_atoms" / "headline-generic.md"
    atom.write_text(atom.read_text().replace("profile.first_name", "profile.firstname"))
    layout = mini_project / "layouts" / "sms" / "promo.txt"
    layout.write_text(layout.read_text().replace("{{ brand.name }}", "{{ profile.loyalty }}"))
    persona = mini_project / "previews" / "profiles" / "vip.yaml"
    persona.write_text(persona.read_text().replace("lifetime_value: 2400", "lifetime_value: x"))
    problems = [p for p in check_project(mini_project) if p.is_error]
    where = {(p.path, p.line) for p in problems}
    assert ("atomcast.yaml", config_line) in where, [str(p) for p in problems]
    assert ("content_atoms/headline-generic.md", 3) in where
    assert ("layouts/sms/promo.txt", 1) in where
    assert ("previews/profiles/vip.yaml", 5) in where
    # The config's one mistake is not echoed by every file that uses what it broke.
    assert not [p for p in problems if "cart_total" in p.message and p.path != "atomcast.yaml"]


def test_a_missing_project_is_not_an_atomcast_yaml_line(tmp_path: Path) -> None:
    with pytest.raises(NoProjectError, match=r"no project at .* \(no atomcast.yaml\)"):
        load_project(tmp_path)
    with pytest.raises(NoProjectError, match="no such folder"):
        check_project(tmp_path / "absent")


def test_the_mini_and_demo_projects_stay_clean_of_the_new_errors(tmp_path: Path) -> None:
    """The new rules hold on real projects: no error, and a copy behaves as the original."""
    copy = copy_project(MINI, tmp_path / "copy")
    assert [p for p in check_project(copy) if p.is_error] == []
    assert os.path.samefile(copy, copy.resolve())
