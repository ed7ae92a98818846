"""``atomcast.yaml``: the checks across its sections, its segments, and a stand-in config
when it does not validate (so that ``check`` still reports on every other file)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from atomcast.conditions import CompiledCondition, compile_condition, normalize_condition
from atomcast.models import (
    AssetsConfig,
    AttributeConfig,
    BrandConfig,
    CampaignConfig,
    Channel,
    LocalesConfig,
    ProjectConfig,
)
from atomcast.paths import confined, name_problem
from atomcast.project.context import LoadContext, locale_problem
from atomcast.project.model import (
    CONFIG_FILE,
    IMAGE_SUFFIXES,
    LAYOUT_SUFFIX,
    LAYOUTS_DIR,
    PERSONAS_DIR,
    Atom,
    Layout,
    Segment,
    brand_asset,
)
from atomcast.schema import AttributeSpec, ProfileSchema
from atomcast.yamlsource import KeyPath, Located


def profile_schema(config: ProjectConfig) -> ProfileSchema:
    """The profile schema ``atomcast.yaml`` declares."""
    return ProfileSchema({k: _attribute_spec(k, v) for k, v in config.profile.items()})


def _attribute_spec(name: str, config: AttributeConfig) -> AttributeSpec:
    return AttributeSpec(
        name=name,
        type=config.type,
        required=config.required,
        sensitive=config.sensitive,
        description=config.description,
        properties={k: _attribute_spec(k, v) for k, v in config.properties.items()},
    )


def partial_config(ctx: LoadContext, data: Mapping[str, Any]) -> ProjectConfig:
    """The sections of a faulty ``atomcast.yaml`` that validate on their own.

    A broken campaign is left out; a broken brand or profile schema is replaced by a
    stand-in and named in ``ctx.degraded``, so that checks relying on it stay quiet rather
    than report the config's one mistake again on every file.
    """
    parts: dict[str, Any] = {}
    sections: dict[str, type[BaseModel]] = {
        "brand": BrandConfig,
        "locales": LocalesConfig,
        "assets": AssetsConfig,
    }
    for key, model in sections.items():
        if key not in data:
            continue
        try:
            parts[key] = model.model_validate(data[key])
        except ValidationError:
            ctx.degraded.add(key)
    if "brand" not in parts:
        ctx.degraded.add("brand")
        parts["brand"] = BrandConfig(
            name="", from_email="", unsubscribe_url="https://invalid.example/"
        )
    profile: dict[str, AttributeConfig] = {}
    raw_profile = data.get("profile")
    for name, spec in (raw_profile if isinstance(raw_profile, dict) else {}).items():
        try:
            profile[str(name)] = AttributeConfig.model_validate(spec)
        except ValidationError:
            ctx.unknown_attributes.add(str(name))
    if not isinstance(raw_profile, dict):
        ctx.degraded.add("profile")
    # An attribute that failed is still declared: an untyped object admits any use.
    for name in ctx.unknown_attributes:
        profile[name] = AttributeConfig(type="object")
    profile.setdefault("id", AttributeConfig(type="string"))
    parts["profile"] = profile
    segments = data.get("segments")
    parts["segments"] = segments if isinstance(segments, dict) else {}
    campaigns: dict[str, CampaignConfig] = {}
    raw_campaigns = data.get("campaigns")
    for name, campaign in (raw_campaigns if isinstance(raw_campaigns, dict) else {}).items():
        try:
            campaigns[str(name)] = CampaignConfig.model_validate(campaign)
        except ValidationError:
            ctx.degraded.add("campaigns")
    parts["campaigns"] = campaigns
    try:
        return ProjectConfig.model_validate(parts)
    except ValidationError:
        # Attribute names the config refuses: keep only the valid ones.
        ctx.degraded.add("profile")
        parts["profile"] = {
            k: v for k, v in profile.items() if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k)
        }
        parts["profile"].setdefault("id", AttributeConfig(type="string"))
    try:
        return ProjectConfig.model_validate(parts)
    except ValidationError:
        ctx.degraded.update(("profile", "campaigns", "segments"))
        return ProjectConfig(brand=parts["brand"], profile={"id": AttributeConfig(type="string")})


def check_brand(
    ctx: LoadContext, config: ProjectConfig, schema: ProfileSchema, located: Located, path: Path
) -> None:
    """The brand's templates, unsubscribe URL, locales and logo."""
    for name in ("unsubscribe_url", "sms_footer", "name"):
        value = getattr(config.brand, name)
        if value:
            ctx.check_template(
                value, CONFIG_FILE, located.line_of(("brand", name)), f"brand.{name}", schema
            )
    if not config.brand.unsubscribe_url.startswith(("https://", "{{")):
        ctx.problems.add(
            path,
            located.line_of(("brand", "unsubscribe_url")),
            "brand.unsubscribe_url must be an https URL (List-Unsubscribe needs it)",
        )
    if "locales" not in ctx.degraded:
        _check_locale_tags(ctx, config, located, path)
    _check_logo(ctx, config, located, path)
    for locale, chain in config.locales.fallbacks.items():
        for index, fallback in enumerate(chain):
            if fallback == locale:
                ctx.problems.add(
                    path,
                    located.line_of(("locales", "fallbacks", locale, index)),
                    f"locales.fallbacks.{locale}: a locale cannot fall back to itself",
                )


def _check_logo(ctx: LoadContext, config: ProjectConfig, located: Located, path: Path) -> None:
    logo = brand_asset(ctx.root, config.brand.logo_url)
    if logo is None:
        return
    where = located.line_of(("brand", "logo_url"))
    resolved = logo.resolve()
    if not resolved.is_relative_to(ctx.root.resolve()):
        ctx.problems.add(path, where, "brand.logo_url points outside the project")
    elif not resolved.is_file():
        ctx.problems.add(
            path,
            where,
            f"brand.logo_url: file not found: {config.brand.logo_url} (a path is "
            "relative to the project folder; a URL starts with https://)",
        )
    elif resolved.suffix.lower() not in IMAGE_SUFFIXES | {".svg", ".gif"}:
        ctx.problems.add(
            path, where, "brand.logo_url must be a png, jpg, jpeg, webp, gif or svg file"
        )


def _check_locale_tags(
    ctx: LoadContext, config: ProjectConfig, located: Located, path: Path
) -> None:
    tags: list[tuple[str, KeyPath]] = [(config.locales.default, ("locales", "default"))]
    for locale, chain in config.locales.fallbacks.items():
        tags.append((locale, ("locales", "fallbacks", locale)))
        tags.extend(
            (fallback, ("locales", "fallbacks", locale, index))
            for index, fallback in enumerate(chain)
        )
    for tag, key in tags:
        problem = locale_problem(tag)
        if problem:
            ctx.problems.add(path, located.line_of(key), f"locales: {problem}")


def check_assets(ctx: LoadContext, config: ProjectConfig, located: Located, path: Path) -> None:
    """``assets.dir`` is written by every render: it must stay inside the project."""
    if "assets" in ctx.degraded:
        return
    folder = Path(config.assets.dir)
    if folder.is_absolute() or confined(ctx.root_resolved, folder) is None:
        ctx.problems.add(
            path,
            located.line_of(("assets", "dir")),
            f"assets.dir {config.assets.dir!r} lies outside the project (an absolute path, "
            "'..' or a symlink): renders write image renditions there, so it must be a "
            "folder inside the project",
        )


def check_preview_styles(ctx: LoadContext) -> None:
    """``previews/*.css`` is served by the preview: never a link to a file elsewhere."""
    folder = ctx.root / PERSONAS_DIR.split("/")[0]
    if not folder.is_dir() or ctx.escapes(folder, "the previews folder"):
        return
    for file in sorted(folder.glob("*.css")):
        ctx.escapes(file, "stylesheet")


def load_segments(
    ctx: LoadContext, config: ProjectConfig, schema: ProfileSchema, located: Located, path: Path
) -> tuple[Segment, ...]:
    """The segments whose conditions check, compiled, in dependency order."""
    names = set(config.segments)
    valid: dict[str, CompiledCondition] = {}
    for name, condition in config.segments.items():
        if ctx.check_condition(
            condition, schema, names, located, ("segments", name), path, f"segment '{name}'"
        ):
            valid[name] = compile_condition(normalize_condition(condition, schema))
    # Segments may build on each other with $inSegment: order them, refuse cycles.
    ordered: list[Segment] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2 or name not in valid:
            return
        if state.get(name) == 1:
            cycle = " -> ".join((*trail[trail.index(name) :], name))
            ctx.problems.add(
                path, located.line_of(("segments", name)), f"segments refer in a cycle: {cycle}"
            )
            return
        state[name] = 1
        for used in sorted(valid[name].segments_used):
            visit(used, (*trail, name))
        state[name] = 2
        ordered.append(Segment(name, valid[name], located.line_of(("segments", name))))

    for name in valid:
        visit(name, ())
    return tuple(ordered)


def check_campaigns(
    ctx: LoadContext,
    config: ProjectConfig,
    located: Located,
    path: Path,
    atoms: Mapping[str, Atom],
    layouts: Mapping[tuple[Channel, str], Layout],
) -> None:
    """Each campaign against the atoms and layouts that loaded."""
    for name, campaign in config.campaigns.items():
        base: KeyPath = ("campaigns", name)
        bad_name = name_problem(name, what="campaign name")
        if bad_name:
            ctx.problems.add(path, located.line_of(base), bad_name)
        if (
            "sms" in campaign.channels
            and not campaign.transactional
            and "brand" not in ctx.degraded
            and not config.brand.sms_footer.strip()
        ):
            ctx.problems.add(
                path,
                located.line_of((*base, "channels", "sms")),
                f"compliance: campaign '{name}' is marketing (not transactional: true) and "
                "sends SMS, but brand.sms_footer is empty: every marketing SMS needs an "
                "opt-out such as 'Reply STOP to opt out'",
            )
        _check_channels(ctx, name, campaign, located, path, layouts)
        _check_fallbacks(ctx, name, campaign, located, path, atoms)
        _check_experiments(ctx, name, campaign, located, path, atoms)


def _check_channels(
    ctx: LoadContext,
    name: str,
    campaign: CampaignConfig,
    located: Located,
    path: Path,
    layouts: Mapping[tuple[Channel, str], Layout],
) -> None:
    base: KeyPath = ("campaigns", name)
    for channel, channel_config in campaign.channels.items():
        key = (channel, channel_config.layout)
        # A layout that exists but failed to load has its own errors already.
        if key not in layouts and key not in ctx.broken_layouts:
            expected = f"{LAYOUTS_DIR}/{channel}/{channel_config.layout}{LAYOUT_SUFFIX[channel]}"
            ctx.problems.add(
                path,
                located.line_of((*base, "channels", channel, "layout")),
                f"campaign '{name}': layout '{channel_config.layout}' for {channel} "
                f"does not exist (expected {expected})",
            )
        if channel_config.max_segments is not None and channel != "sms":
            ctx.problems.add(
                path,
                located.line_of((*base, "channels", channel, "max_segments")),
                f"campaign '{name}': max_segments applies to sms only",
                "warning",
            )


def _check_fallbacks(
    ctx: LoadContext,
    name: str,
    campaign: CampaignConfig,
    located: Located,
    path: Path,
    atoms: Mapping[str, Atom],
) -> None:
    base: KeyPath = ("campaigns", name)
    for slot_name, slot in campaign.slots.items():
        if slot.fallback is None:
            continue
        line = located.line_of((*base, "slots", slot_name, "fallback"))
        atom = atoms.get(slot.fallback)
        if atom is None:
            close = difflib.get_close_matches(slot.fallback, list(atoms), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            ctx.problems.add(
                path,
                line,
                f"campaign '{name}': slot '{slot_name}' falls back to atom "
                f"'{slot.fallback}', which does not exist{hint}",
            )
        elif atom.kind not in slot.kinds:
            ctx.problems.add(
                path,
                line,
                f"campaign '{name}': fallback '{slot.fallback}' is a {atom.kind}, "
                f"but slot '{slot_name}' takes {', '.join(slot.kinds)}",
            )


def _check_experiments(
    ctx: LoadContext,
    name: str,
    campaign: CampaignConfig,
    located: Located,
    path: Path,
    atoms: Mapping[str, Atom],
) -> None:
    base: KeyPath = ("campaigns", name, "experiments")
    slots_seen: dict[str, str] = {}
    for exp_name, experiment in campaign.experiments.items():
        if experiment.slot not in campaign.slots:
            ctx.problems.add(
                path,
                located.line_of((*base, exp_name, "slot")),
                f"experiment '{exp_name}': slot '{experiment.slot}' is not a slot of "
                f"campaign '{name}'",
            )
        elif experiment.slot in slots_seen:
            ctx.problems.add(
                path,
                located.line_of((*base, exp_name, "slot")),
                f"experiment '{exp_name}': slot '{experiment.slot}' already has experiment "
                f"'{slots_seen[experiment.slot]}'",
            )
        slots_seen.setdefault(experiment.slot, exp_name)
        for arm in experiment.variants:
            if not any(a.experiment == exp_name and a.arm == arm for a in atoms.values()):
                ctx.problems.add(
                    path,
                    located.line_of((*base, exp_name, "variants", arm)),
                    f"experiment '{exp_name}': no atom carries variant '{exp_name}:{arm}'",
                    "warning",
                )
