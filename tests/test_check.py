"""``atomcast check`` on real project folders seeded with one mistake each.

Every case names the file and line the editor must be sent to, which is the whole point of
the command: a message without its line is a bug here.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from atomcast.check import check_project
from atomcast.errors import ProjectError
from atomcast.project import load_project
from tests.conftest import MINI, ROOT, copy_project, run_cli


@dataclass(frozen=True)
class Seed:
    """Replace ``find`` with ``replace`` in ``file`` (or write it when ``find`` is None)."""

    id: str
    file: str
    find: str | None
    replace: str
    line: int
    message: str
    path: str | None = None
    #: False for what only ``check`` finds (MJML, image decoding): rendering reports those
    #: per channel instead of refusing the whole project.
    refused_by_loader: bool = True

    def apply(self, root: Path) -> None:
        target = root / self.file
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.find is None:
            target.write_text(self.replace, encoding="utf-8")
            return
        text = target.read_text(encoding="utf-8")
        assert self.find in text, f"seed {self.id}: {self.find!r} not in {self.file}"
        target.write_text(text.replace(self.find, self.replace, 1), encoding="utf-8")


SEEDS = [
    Seed(
        "malformed-yaml",
        "content_atoms/cta-shop.md",
        "label: Shop now",
        "label: [Shop now",
        3,
        "malformed YAML",
    ),
    Seed(
        "malformed-config",
        "atomcast.yaml",
        "  vip: {lifetime_value: {$gte: 1000}}",
        "  vip: {lifetime_value: {$gte: 1000}",
        20,
        "malformed YAML",
    ),
    Seed(
        "unknown-kind",
        "content_atoms/offer-10.md",
        "kind: offer",
        "kind: banner",
        2,
        "'banner' is not allowed",
    ),
    Seed(
        "missing-required",
        "content_atoms/cta-shop.md",
        "label: Shop now\n",
        "",
        2,
        "cta atom needs 'label'",
    ),
    Seed(
        "duplicate-id",
        "content_atoms/zz-copy.md",
        None,
        "---\nkind: cta\nid: cta-shop\nlabel: Again\nurl: https://x.example\n---\n",
        3,
        "duplicate atom id 'cta-shop' (also defined in content_atoms/cta-shop.md:1)",
    ),
    Seed(
        "unknown-slot-kind",
        "atomcast.yaml",
        "hero: {kinds: [image]}",
        "hero: {kinds: [picture]}",
        33,
        "'picture' is not allowed",
    ),
    Seed(
        "missing-fallback",
        "atomcast.yaml",
        "fallback: offer-default",
        "fallback: offer-nope",
        34,
        "falls back to atom 'offer-nope', which does not exist",
    ),
    Seed(
        "missing-layout",
        "atomcast.yaml",
        "push: {layout: promo}",
        "push: {layout: promo2}",
        27,
        "layout 'promo2' for push does not exist",
    ),
    Seed(
        "cta-not-https",
        "content_atoms/cta-shop.md",
        "url: https://test.example/shop",
        "url: http://test.example/shop",
        4,
        "cta url must be https",
    ),
    Seed(
        "window-backwards",
        "content_atoms/offer-summer.md",
        "valid_until: 2026-08-31",
        "valid_until: 2026-05-31",
        6,
        "valid_until 2026-05-31 is before valid_from 2026-06-01",
    ),
    Seed(
        "image-without-alt",
        "content_atoms/hero.md",
        None,
        "---\nkind: image\nsrc: https://test.example/hero.jpg\n---\n",
        2,
        "image atom needs 'alt'",
    ),
    Seed(
        "template-syntax",
        "content_atoms/headline-generic.md",
        'the sale is on"',
        'the sale is on {{ "',
        3,
        "template error",
    ),
    Seed(
        "template-unknown-attribute",
        "content_atoms/headline-generic.md",
        "profile.first_name",
        "profile.firstname",
        3,
        "profile.firstname is not in the profile schema (did you mean 'first_name'?)",
    ),
    Seed(
        "template-prints-sensitive",
        "content_atoms/headline-generic.md",
        "the sale is on",
        "{{ profile.medical_notes }}",
        3,
        "prints sensitive attribute profile.medical_notes",
    ),
    Seed(
        # It would print every attribute, sensitive ones included.
        "template-mapping-method",
        "content_atoms/headline-generic.md",
        "the sale is on",
        "{% for k, v in profile.items() %}{{ v }}{% endfor %}",
        3,
        "profile.items is a method of the profile mapping, not an attribute",
    ),
    Seed(
        "layout-unknown-attribute",
        "layouts/sms/promo.txt",
        "{{ brand.name }}",
        "{{ profile.loyalty }}",
        1,
        "profile.loyalty is not in the profile schema",
    ),
    Seed(
        "layout-template-syntax",
        "layouts/email/promo.mjml",
        "<h1>{{ slots.headline.text }}</h1>",
        "<h1>{{ slots.headline.text </h1>",
        9,
        "template error",
    ),
    Seed(
        "condition-unknown-attribute",
        "content_atoms/offer-20.md",
        "cart_total: {$gt: 50}",
        "cart_totl: {$gt: 50}",
        6,
        "cart_totl",
    ),
    Seed(
        "condition-unknown-operator",
        "content_atoms/offer-20.md",
        "{$gt: 50}",
        "{$bigger: 50}",
        6,
        "$bigger",
    ),
    Seed(
        "condition-type-mismatch",
        "atomcast.yaml",
        "{lifetime_value: {$gte: 1000}}",
        "{lifetime_value: {$gte: 'lots'}}",
        20,
        "lifetime_value",
    ),
    Seed(
        "unknown-segment",
        "content_atoms/headline-vip.md",
        "segments: [vip]",
        "segments: [vipp]",
        3,
        "unknown segment 'vipp' (did you mean 'vip'?)",
    ),
    Seed(
        "unknown-config-field",
        "atomcast.yaml",
        "  sms_footer:",
        "  sms_fotter:",
        5,
        "unknown field 'sms_fotter'",
    ),
    Seed(
        "persona-bad-type",
        "previews/profiles/vip.yaml",
        "lifetime_value: 2400",
        "lifetime_value: lots",
        5,
        "lifetime_value: expected number",
    ),
    Seed(
        "mjml-error",
        "layouts/email/promo.mjml",
        "<mj-body>",
        "<mj-body><mj-section>",
        5,
        "MJML error",
        refused_by_loader=False,
    ),
    Seed(
        "unknown-slot-in-layout",
        "layouts/email/promo.mjml",
        "<h1>{{ slots.headline.text }}</h1>",
        "<h1>{{ slots.hedline.text }}</h1>",
        9,
        "no slot 'hedline' in campaign(s) sale (did you mean 'headline'?)",
        refused_by_loader=False,
    ),
    Seed(
        "unknown-slot-field-in-layout",
        "layouts/web/banner.html",
        "{{ slots.cta.label }}",
        "{{ slots.cta.lable }}",
        4,
        "slot views have no field 'lable' (did you mean 'label'?)",
        refused_by_loader=False,
    ),
    Seed(
        "image-not-decodable",
        "content_atoms/hero-local.md",
        None,
        "---\nkind: image\nalt: A hero\nsrc: broken.png\n---\n",
        4,
        "image broken.png cannot be read",
        refused_by_loader=False,
    ),
    Seed(
        "unknown-experiment-arm",
        "content_atoms/headline-b.md",
        "headline-test:b",
        "headline-test:c",
        3,
        "has no variant 'c'",
    ),
]


def test_mini_project_is_clean() -> None:
    problems = check_project(MINI)
    assert [p for p in problems if p.is_error] == []


def test_demo_project_is_clean() -> None:
    problems = check_project(ROOT)
    errors = [str(p) for p in problems if p.is_error]
    assert errors == []


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.id)
def test_seeded_error_names_file_and_line(seed: Seed, mini_project: Path) -> None:
    seed.apply(mini_project)
    problems = [p for p in check_project(mini_project) if p.is_error]
    expected_path = seed.path or seed.file
    matching = [p for p in problems if seed.message in p.message]
    assert matching, f"no error mentioning {seed.message!r}; got {[str(p) for p in problems]}"
    assert (matching[0].path, matching[0].line) == (expected_path, seed.line), str(matching[0])
    if seed.refused_by_loader:
        with pytest.raises(ProjectError):
            load_project(mini_project)


def test_all_seeds_at_once_are_all_reported(tmp_path: Path) -> None:
    """Every mistake at once, through the real CLI: one line each, exit 1, no traceback."""
    root = copy_project(MINI, tmp_path / "all")
    (root / "content_atoms" / "broken.png").write_bytes(b"not a png at all")
    # Seeds that break atomcast.yaml itself hide the atoms' cross-checks, so leave them out.
    # One seed per file, so that seeds never overwrite each other's text.
    # The duplicate needs the original intact, which another seed of that file breaks.
    seeds = list(
        {
            s.file: s
            for s in reversed(SEEDS)
            if s.file != "atomcast.yaml" and s.id != "duplicate-id"
        }.values()
    )
    for seed in seeds:
        seed.apply(root)
    result = subprocess.run(
        [sys.executable, "-m", "atomcast", "check", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stdout.splitlines()
    for seed in seeds:
        assert any(
            line.startswith(f"{seed.path or seed.file}:") and seed.message in line for line in lines
        ), f"{seed.id} missing from:\n{result.stdout}"


def test_check_exit_zero_and_summary_on_clean_project() -> None:
    result = run_cli("check", str(MINI))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stderr


def test_not_a_project(tmp_path: Path) -> None:
    result = run_cli("check", str(tmp_path))
    assert result.returncode == 1
    assert f"error: no project at {tmp_path} (no atomcast.yaml)" in result.stderr


@pytest.fixture(autouse=True)
def _broken_image(mini_project: Path) -> None:
    # For the image seed: a file with an image's name that is not an image.
    (mini_project / "content_atoms" / "broken.png").write_bytes(b"not a png at all")


def test_unreachable_atom_warnings(mini_project: Path) -> None:
    (mini_project / "content_atoms" / "headline-contradiction.md").write_text(
        "---\nkind: headline\nsegments: [vip]\n"
        "when: {lifetime_value: {$lt: 50}}\ntext: Never\n---\n"
    )
    (mini_project / "content_atoms" / "snippet-orphan.md").write_text(
        "---\nkind: snippet\ntext: No slot takes me\n---\n"
    )
    (mini_project / "content_atoms" / "cta-shadowed.md").write_text(
        "---\nkind: cta\nlabel: Old\nurl: https://test.example/old\npriority: -1\n---\n"
    )
    warnings = {p.path: p.message for p in check_project(mini_project) if not p.is_error}
    assert (
        "contradicts every segment it targets: vip (lifetime_value)"
        in warnings["content_atoms/headline-contradiction.md"]
    )
    assert "no campaign has a slot taking snippet" in warnings["content_atoms/snippet-orphan.md"]
    assert "'cta-shop' has a higher priority" in warnings["content_atoms/cta-shadowed.md"]


def test_a_name_set_inside_if_is_not_an_unknown_variable(mini_project: Path) -> None:
    """Jinja's own analysis lists names set inside ``{% if %}`` as undeclared."""
    banner = mini_project / "layouts" / "web" / "banner.html"
    banner.write_text(
        banner.read_text().replace(
            "{{ slots.body.html }}",
            "{% set shown %}{{ slots.body.html }}{% endset %}{{ shown }}",
        )
    )
    assert not [p for p in check_project(mini_project) if p.is_error]
    banner.write_text(banner.read_text().replace("{{ shown }}", "{{ shwon }}"))
    errors = [p for p in check_project(mini_project) if p.is_error]
    assert errors
    assert "unknown variable 'shwon'" in errors[0].message


def test_a_method_of_a_profile_value_is_not_an_unknown_attribute(mini_project: Path) -> None:
    """``profile.first_name.title()`` calls the string's method (Jinja tries attributes
    first): no attribute ``first_name.title`` is needed in the schema."""
    banner = mini_project / "layouts" / "web" / "banner.html"
    banner.write_text(
        banner.read_text().replace(
            "{{ slots.body.html }}",
            "{{ slots.body.html }}{{ profile.first_name.title() }}"
            "{{ (profile.first_name | default('')).split() | join('-') }}"
            "{% for channel, given in profile.consent.items() %}{{ channel }}{% endfor %}",
        )
    )
    assert not [p for p in check_project(mini_project) if p.is_error]
    banner.write_text(banner.read_text().replace("first_name.title()", "first_name.titel"))
    errors = [p.message for p in check_project(mini_project) if p.is_error]
    assert len(errors) == 1
    assert "profile.first_name.titel is not in the profile schema" in errors[0]
    # The sandbox refuses private attributes: never a method to accept.
    banner.write_text(banner.read_text().replace("first_name.titel", "first_name.__class__"))
    errors = [p.message for p in check_project(mini_project) if p.is_error]
    assert len(errors) == 1
    assert "profile.first_name.__class__ is not in the profile schema" in errors[0]
