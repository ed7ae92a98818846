"""Seeded synthetic profiles for the benchmarks, one generator per content project.

- ``demo``: the Harbor & Pine CRM mix (long-tailed first names drawn with Zipf weights, VIP
  and cart correlations, five locales);
- ``pantry``: the Larder & Co subscriber mix (eight first names, four in ten missing or
  empty, optional city and delivery day, German and Mexican Spanish);
- any other project: values derived from its profile schema alone (types, plus a few
  well-known attribute names), so that ``--project PATH`` works on content nobody tuned for.

Every generator only emits attributes the project's schema declares, so every profile is
valid (tests/test_bench_content.py checks that).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from atomcast.schema import AttributeSpec, ProfileSchema

Generator = Callable[[random.Random, int], dict[str, Any]]

# -- demo (Harbor & Pine) ----------------------------------------------------------------------

#: A long tail of first names: a real CRM has thousands of names and a few very common ones.
_HEADS = "Ma Sa Pri Da Ru Zo Ju Na A Li No O E Chlo Lé Ja Ev Mi So Ka Jo Te Ro Ha Ni Be Clé"
_TAILS = "rgaret m ya le th é lien dia mélie am ah livia mma this a ck phie ren el ssa se nnah"
DEMO_NAMES = sorted({head + tail for head in _HEADS.split() for tail in _TAILS.split()})
random.Random(1).shuffle(DEMO_NAMES)
_DEMO_WEIGHTS = [1 / (rank + 1) for rank in range(len(DEMO_NAMES))]
_DEMO_CITIES = [
    "Portland", "Camden", "Bar Harbor", "Halifax", "Boston", "Montréal", "Québec", "Paris",
    "Lyon", "Seattle", "Denver", "Burlington",
]  # fmt: skip
_DEMO_INTERESTS = [
    "hiking", "camping", "backpacking", "climbing", "kayaking", "canoeing", "trail-running",
    "home", "kitchen", "cabin-decor", "reading", "sailing", "fishing",
]  # fmt: skip
_DEMO_LOCALES = [("en-US", 0.68), ("fr-CA", 0.14), ("fr", 0.10), ("en-GB", 0.05), ("de-DE", 0.03)]
_DEMO_TIERS = [("none", 0.45), ("trail", 0.30), ("ridge", 0.17), ("summit", 0.08)]


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    point = rng.random()
    running = 0.0
    for value, weight in weighted:
        running += weight
        if point < running:
            return value
    return weighted[-1][0]


def demo_profile(rng: random.Random, index: int) -> dict[str, Any]:
    """One profile of the demo schema; the mix roughly follows a retailer's CRM."""
    profile: dict[str, Any] = {"id": f"p-{index:07d}", "locale": _pick(rng, _DEMO_LOCALES)}
    if rng.random() < 0.9:
        profile["first_name"] = rng.choices(DEMO_NAMES, _DEMO_WEIGHTS)[0]
    if rng.random() < 0.8:
        profile["city"] = rng.choice(_DEMO_CITIES)
    vip = rng.random() < 0.12
    profile["lifetime_value"] = round(rng.uniform(1000, 6000) if vip else rng.uniform(0, 950), 2)
    profile["cart_total"] = round(rng.uniform(5, 400), 2) if rng.random() < 0.3 else 0
    orders = 0 if rng.random() < 0.15 else rng.randint(1, 40)
    profile["orders_count"] = orders
    if orders:
        year = rng.choice([2024, 2025, 2025, 2026, 2026, 2026])
        month = rng.randint(1, 12 if year < 2026 else 6)
        profile["last_purchase_at"] = f"{year}-{month:02d}-{rng.randint(1, 28):02d}T10:00:00Z"
    profile["signup_at"] = f"{rng.randint(2012, 2026)}-{rng.randint(1, 6):02d}-01T09:00:00Z"
    profile["loyalty_tier"] = _pick(rng, _DEMO_TIERS)
    profile["interests"] = rng.sample(_DEMO_INTERESTS, rng.randint(0, 4))
    profile["consent"] = {
        "email": rng.random() < 0.78,
        "sms": rng.random() < 0.32,
        "push": rng.random() < 0.48,
        "web": rng.random() < 0.88,
    }
    if rng.random() < 0.02:
        profile["medical_notes"] = "wide fit, high arch"
    return profile


# -- pantry (Larder & Co) ----------------------------------------------------------------------

_PANTRY_NAMES = ["Anna", "Jonas", "Lucía", "Sam", "Mia", "José", "Lena", "Tom"]
_PANTRY_LOCALES = [
    ("en-GB", 0.50), ("de-DE", 0.20), ("es-MX", 0.20), ("de-AT", 0.05), ("es-ES", 0.05),
]  # fmt: skip
_PANTRY_CITIES = ["Leeds", "Berlin", "Puebla", "Wien", "Madrid", "York"]
_PANTRY_DAYS = ["Thu 12 Mar", "Fri 13 Mar", "Sat 14 Mar"]
_PANTRY_PLANS = [("none", 0.30), ("solo", 0.25), ("duo", 0.30), ("family", 0.15)]
_PANTRY_DIETS = ["vegetarian", "vegan", "gluten-free", "dairy-free"]


def pantry_profile(rng: random.Random, index: int) -> dict[str, Any]:
    """One subscriber: few names, many optional attributes missing or empty."""
    profile: dict[str, Any] = {"id": f"s-{index:07d}", "locale": _pick(rng, _PANTRY_LOCALES)}
    name = rng.random()
    if name < 0.60:
        profile["first_name"] = rng.choice(_PANTRY_NAMES)
    elif name < 0.70:
        profile["first_name"] = ""  # typed nothing at signup: prints as nothing
    if rng.random() < 0.5:
        profile["city"] = rng.choice(_PANTRY_CITIES)
    if rng.random() < 0.6:
        profile["next_delivery"] = rng.choice(_PANTRY_DAYS)
    plan = _pick(rng, _PANTRY_PLANS)
    profile["plan"] = plan
    if plan != "none":
        profile["box_size"] = rng.choice([2, 3, 4, 5])
    profile["credit"] = round(rng.uniform(1, 30), 2) if rng.random() < 0.2 else 0
    if rng.random() < 0.85:
        month = rng.randint(1, 12)
        year = rng.choice([2025, 2026]) if month <= 2 else 2025
        profile["last_order_at"] = f"{year}-{month:02d}-{rng.randint(1, 28):02d}T09:00:00Z"
    if rng.random() < 0.4:
        profile["diet"] = rng.sample(_PANTRY_DIETS, rng.randint(1, 2))
    profile["consent"] = {
        "email": rng.random() < 0.85,
        "sms": rng.random() < 0.4,
        "push": rng.random() < 0.55,
        "web": rng.random() < 0.9,
    }
    return profile


# -- any project: from the schema alone --------------------------------------------------------

_WORDS = ["alpha", "bravo", "delta", "echo", "golf", "kilo", "lima", "oscar", "tango", "zulu"]
_HINTS: Mapping[str, list[Any]] = {
    "first_name": ["Anna", "Sam", "Mia", "Tom", "Lena", "José", "Priya", "Kenji"],
    "locale": ["en-US", "en-GB", "fr", "de-DE", "es-MX"],
    "city": ["Leeds", "Boston", "Berlin", "Lyon", "Puebla"],
}


def _value(spec: AttributeSpec, rng: random.Random, index: int) -> Any:
    hint = _HINTS.get(spec.name)
    if hint is not None:
        return rng.choice(hint)
    if spec.type == "string":
        return f"{spec.name}-{index}" if spec.name == "id" else rng.choice(_WORDS)
    if spec.type == "number":
        return round(rng.expovariate(1 / 200), 2)
    if spec.type == "integer":
        return rng.randint(0, 40)
    if spec.type == "boolean":
        return rng.random() < 0.7
    if spec.type == "datetime":
        return (
            f"{rng.randint(2024, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z"
        )
    if spec.type == "list":
        return rng.sample(_WORDS, rng.randint(0, 3))
    if spec.type == "object":
        return {
            name: _value(child, rng, index)
            for name, child in spec.properties.items()
            if child.required or rng.random() < 0.9
        }
    return None


def schema_generator(schema: ProfileSchema) -> Generator:
    """Profiles with every declared attribute (sensitive ones never), optional ones missing
    one time in five."""

    def generate(rng: random.Random, index: int) -> dict[str, Any]:
        profile: dict[str, Any] = {}
        for name, spec in schema.attributes.items():
            if spec.sensitive:
                continue
            if name == "id" or spec.required or rng.random() < 0.8:
                value = _value(spec, rng, index)
                if value is not None:
                    profile[name] = value
        return profile

    return generate


def generator_for(project: str, schema: ProfileSchema) -> Generator:
    """The generator tuned for a known project (``demo``, ``pantry``), else the schema's."""
    if project == "demo":
        return demo_profile
    if project == "pantry":
        return pantry_profile
    return schema_generator(schema)


def synthetic_profiles(
    count: int, seed: int = 7, generator: Generator = demo_profile
) -> Iterator[dict[str, Any]]:
    """``count`` profiles from ``generator`` (the demo's by default), the same for a seed."""
    rng = random.Random(seed)
    for index in range(count):
        yield generator(rng, index)


def write_profiles(path: Path, generator: Generator, count: int, seed: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for profile in synthetic_profiles(count, seed, generator):
            handle.write(json.dumps(profile, ensure_ascii=False) + "\n")
