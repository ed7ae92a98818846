"""Deterministic synthetic profiles from the demo schema, shared by the benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

#: Common names, then a long tail made from syllables: memo hit rates like a real CRM's.
FIRST_NAMES = [
    "Margaret",
    "Julien",
    "Zoë",
    "Sam",
    "Priya",
    "Dale",
    "Amélie",
    "Nadia",
    "Ruth",
    "Oskar",
    "Léa",
    "Kenji",
    "Ana",
    "Tomás",
    "Grace",
    "Ifeoma",
]
LOCALES = ["en-US", "en-US", "en-US", "fr-CA", "fr", "en-GB"]
INTERESTS = ["hiking", "camping", "sailing", "cooking", "home", "running", "fishing", "reading"]
CITIES = ["Portland", "Boston", "Montréal", "Québec", "Halifax", "Seattle", "Burlington"]


_SYLLABLES = ["ma", "ri", "lo", "sa", "ké", "an", "to", "el", "nu", "da", "vi", "ro", "é", "li"]


def _first_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(FIRST_NAMES)
    parts = rng.randint(2, 3)
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def synthetic_profile(index: int, rng: random.Random) -> dict[str, Any]:
    """One realistic profile: a mix of locales, segments, consents and missing values."""
    profile: dict[str, Any] = {"id": f"bench-{index:08d}"}
    if rng.random() < 0.9:
        profile["first_name"] = _first_name(rng)
    profile["locale"] = rng.choice(LOCALES)
    profile["lifetime_value"] = round(rng.expovariate(1 / 600), 2)
    profile["cart_total"] = round(rng.choice([0, 0, 0, rng.uniform(5, 400)]), 2)
    year = rng.choice([2024, 2025, 2026])
    profile["last_purchase_at"] = (
        f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z"
    )
    profile["interests"] = rng.sample(INTERESTS, rng.randint(0, 3))
    profile["consent"] = {
        "email": rng.random() < 0.85,
        "push": rng.random() < 0.6,
        "sms": rng.random() < 0.5,
        "web": rng.random() < 0.9,
    }
    if rng.random() < 0.5:
        profile["city"] = rng.choice(CITIES)
    if rng.random() < 0.7:
        profile["orders_count"] = rng.randint(0, 40)
    return profile


def synthetic_profiles(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        yield synthetic_profile(index, rng)
