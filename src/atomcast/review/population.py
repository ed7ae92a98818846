"""The profiles a review runs over: personas, the preview's synthetic profiles and a sample
of a real profile file.

A member is identified by a stable key (``persona:vip-margaret``, ``segment:vip``,
``experiment:headline-test:a``, ``record:17``) and carries one raw profile. When two sides of
a diff both have a member (a persona edited between them), the first project given wins, so
that both sides render the *same* profile and every difference comes from the content.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from atomcast.batch.readers import RecordError, read_profiles
from atomcast.project import Project
from atomcast.review.synthetic import synthetic_profiles
from atomcast.schema import ProfileSchema
from atomcast.selection import Selector

MemberKind = Literal["persona", "synthetic", "record"]
DEFAULT_SAMPLE = 10_000


@dataclass(frozen=True, slots=True)
class Member:
    """One profile of the population.

    :param name: the persona's name for personas, else the synthetic row's label or the
        record's position.
    """

    key: str
    kind: MemberKind
    name: str
    raw: Mapping[str, Any]

    @property
    def persona(self) -> str | None:
        return self.name if self.kind == "persona" else None

    @property
    def profile_id(self) -> str:
        return str(self.raw.get("id", ""))


@dataclass(frozen=True, slots=True)
class Population:
    """The members, in order: personas, synthetic profiles, then file records.

    :param unreadable: records of ``--profiles`` that could not be read (malformed).
    """

    members: tuple[Member, ...]
    unreadable: int = 0

    def __len__(self) -> int:
        return len(self.members)


def sample_records(path: Path, schema: ProfileSchema, sample: int) -> Population:
    """The first ``sample`` records of a profile file (.jsonl, .csv, .parquet) as members.

    :raises BatchError: when the file cannot be opened as its format.
    """
    members: list[Member] = []
    unreadable = 0
    if sample > 0:
        for position, raw in itertools.islice(read_profiles(path, schema), sample):
            if isinstance(raw, RecordError):
                unreadable += 1
                continue
            members.append(Member(f"record:{position}", "record", str(position), raw))
    return Population(tuple(members), unreadable)


def build_population(
    projects: Sequence[Project],
    campaign: str | None,
    *,
    profiles: Path | None = None,
    sample: int = DEFAULT_SAMPLE,
    records: Population | None = None,
) -> Population:
    """Every persona of any project, the synthetic profiles of ``campaign`` in any project
    that has it, and the first ``sample`` records of ``profiles`` (or ``records``, read
    once with :func:`sample_records` when several campaigns share them).

    :raises BatchError: when the profile file cannot be opened as its format.
    """
    members: dict[str, Member] = {}
    for project in projects:
        for persona in sorted(project.personas.values(), key=lambda p: p.name):
            key = f"persona:{persona.name}"
            members.setdefault(key, Member(key, "persona", persona.name, persona.raw))
    for project in projects:
        if campaign is None or campaign not in project.config.campaigns:
            continue
        for synthetic in synthetic_profiles(project, campaign, Selector(project)):
            members.setdefault(
                synthetic.key, Member(synthetic.key, "synthetic", synthetic.label, synthetic.raw)
            )
    if records is None and profiles is not None and projects:
        records = sample_records(profiles, projects[0].schema, sample)
    if records is None:
        return Population(tuple(members.values()))
    for member in records.members:
        members[member.key] = member
    return Population(tuple(members.values()), records.unreadable)
