"""Synthetic preview rows: one representative profile per segment and per experiment arm.

Personas are what editors wrote; synthetic rows fill the gaps so that every segment and
every arm of a campaign shows up in the matrix even when no persona happens to hit it.

A segment's profile is *derived* from its condition by a small, deliberately naive solver
(``$gte: 1000`` sets 1000, ``$in: [a, b]`` sets ``a``...) and then *verified* with the real
selector: the solver never decides membership, :meth:`Selector.segments_of` does. A profile
the solver cannot place in its segment is kept but marked ``approximate`` so the UI can say
so instead of silently showing the wrong thing.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from atomcast.errors import ProfileError
from atomcast.project import Project
from atomcast.schema import AttributeSpec, Profile, ProfileSchema, validate_profile
from atomcast.selection import HOLDOUT, ExperimentPlan, Selector

#: How many ids are tried before an experiment arm is declared unreachable. Arms are hash
#: buckets, so even a 1% arm is found within a few hundred tries.
MAX_ARM_SEARCH = 5000
#: Alternatives explored for ``$or`` / ``$in`` before giving up on an exact profile.
MAX_ALTERNATIVES = 64

_REGEX_META = re.compile(r"[\\^$.*+?()\[\]{}|]")


@dataclass(frozen=True, slots=True)
class SyntheticProfile:
    """A generated profile and how it was obtained.

    :param key: stable row key (``segment:vip``, ``experiment:headline-test:a``).
    :param approximate: the profile does not verifiably land where it was meant to.
    :param note: a short human explanation (which clauses were applied, or why not exact).
    """

    key: str
    label: str
    kind: str
    raw: Mapping[str, Any]
    profile: Profile
    approximate: bool
    note: str


def base_profile(project: Project, profile_id: str) -> dict[str, Any]:
    """A neutral, persona-like profile from the schema alone.

    It consents to every channel (a row that renders nothing shows nothing) and carries no
    behavioural attributes, so the segment under study is what makes the difference.
    """
    schema = project.schema
    raw: dict[str, Any] = {"id": profile_id}
    attributes = schema.attributes
    if "first_name" in attributes and attributes["first_name"].type == "string":
        raw["first_name"] = "Alex"
    if "locale" in attributes and attributes["locale"].type == "string":
        raw["locale"] = project.config.locales.default
    consent = attributes.get("consent")
    if consent is not None and consent.type == "object":
        channels = consent.properties or {}
        raw["consent"] = {
            name: True for name, spec in channels.items() if spec.type == "boolean" or not channels
        } or {"email": True, "push": True, "sms": True, "web": True}
    return raw


def _default_for(spec: AttributeSpec | None) -> Any:
    kind = spec.type if spec is not None else "string"
    return {
        "string": "example",
        "number": 1,
        "integer": 1,
        "boolean": True,
        "datetime": "2026-01-01T00:00:00Z",
        "list": ["example"],
        "object": {},
    }[kind]


def _shift(value: Any, spec: AttributeSpec | None, step: int) -> Any:
    """A value just above (``step`` > 0) or below ``value`` of the attribute's type."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value + step
    if isinstance(value, str):
        try:
            text = value[:-1] + "+00:00" if value.endswith("Z") else value
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return value + "z" if step > 0 else value[:-1] if value else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        shifted = moment.astimezone(dt.UTC) + dt.timedelta(days=step)
        return shifted.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _regex_example(pattern: str) -> str | None:
    """A string that the (simple) pattern matches, or None: alternations take their first
    branch, anchors and metacharacters are dropped."""
    text = pattern.strip("^$")
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
        if text.startswith("?:"):
            text = text[2:]
    text = text.split("|", 1)[0]
    candidate = _REGEX_META.sub("", text)
    try:
        return candidate if re.search(pattern, candidate) else None
    except re.error:
        return None


def _set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _del_path(raw: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    node: Any = raw
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


class _Solver:
    """Derives candidate profiles from a condition; each ``$or`` branch is an alternative."""

    def __init__(self, project: Project) -> None:
        self.schema: ProfileSchema = project.schema
        self.segments = {segment.name: segment.condition.source for segment in project.segments}
        self.applied: list[str] = []

    def spec(self, path: str) -> AttributeSpec | None:
        resolved = self.schema.resolve(path)
        return resolved or None

    def solve(
        self, condition: Any, raw: dict[str, Any], depth: int = 0
    ) -> Iterator[dict[str, Any]]:
        """Every way (up to a bound) of making ``raw`` satisfy ``condition``."""
        if depth > 12 or not isinstance(condition, Mapping):
            yield raw
            return
        results: list[dict[str, Any]] = [raw]
        for key, value in condition.items():
            following: list[dict[str, Any]] = []
            for current in results:
                following.extend(self._clause(str(key), value, current, depth))
                if len(following) >= MAX_ALTERNATIVES:
                    break
            results = following[:MAX_ALTERNATIVES] or results
        yield from results

    def _clause(
        self, key: str, value: Any, raw: dict[str, Any], depth: int
    ) -> list[dict[str, Any]]:
        if key == "$and" and isinstance(value, list):
            results = [raw]
            for part in value:
                results = [
                    solved
                    for current in results
                    for solved in self.solve(part, copy.deepcopy(current), depth + 1)
                ][:MAX_ALTERNATIVES]
            return results
        if key == "$or" and isinstance(value, list):
            out: list[dict[str, Any]] = []
            for part in value:
                out.extend(self.solve(part, copy.deepcopy(raw), depth + 1))
            return out or [raw]
        if key == "$inSegment" and isinstance(value, str) and value in self.segments:
            return list(self.solve(self.segments[value], raw, depth + 1))
        if key.startswith("$"):
            # $nor, $not, $notInSegment: nothing simple to set; verification will tell.
            return [raw]
        spec = self.spec(key)
        if isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value):
            return self._operators(key, spec, value, raw)
        target = copy.deepcopy(raw)
        _set_path(target, key, value)
        return [target]

    def _operators(
        self, path: str, spec: AttributeSpec | None, ops: Mapping[Any, Any], raw: dict[str, Any]
    ) -> list[dict[str, Any]]:
        alternatives: list[Any] = [_MISSING]
        remove = False
        for op, operand in ops.items():
            nxt: list[Any] = []
            for current in alternatives:
                values, drop = self._operator(str(op), operand, spec, current)
                remove = remove or drop
                nxt.extend(values)
            alternatives = nxt[:MAX_ALTERNATIVES] or alternatives
        out: list[dict[str, Any]] = []
        for value in alternatives:
            target = copy.deepcopy(raw)
            if remove:
                _del_path(target, path)
            elif value is not _MISSING:
                _set_path(target, path, value)
            out.append(target)
        return out

    def _operator(
        self, op: str, operand: Any, spec: AttributeSpec | None, current: Any
    ) -> tuple[list[Any], bool]:
        is_list = spec is not None and spec.type == "list"
        if op in ("$eq", "$veq"):
            return [operand], False
        if op in ("$gte", "$lte", "$vgte", "$vlte"):
            return [operand if current is _MISSING else current], False
        if op in ("$gt", "$vgt"):
            return [_shift(operand, spec, 1) if current is _MISSING else current], False
        if op in ("$lt", "$vlt"):
            if current is not _MISSING and _less(current, operand):
                return [current], False
            return [_shift(operand, spec, -1)], False
        if op == "$in" and isinstance(operand, list) and operand:
            return ([[item] if is_list else item for item in operand], False)
        if op == "$all" and isinstance(operand, list):
            return [list(operand)], False
        if op == "$size" and isinstance(operand, int):
            return [[f"item-{i}" for i in range(operand)]], False
        if op == "$exists":
            if operand:
                return [_default_for(spec) if current is _MISSING else current], False
            return [_MISSING], True
        if op == "$type" and isinstance(operand, str):
            sample = {"string": "example", "number": 1, "boolean": True, "array": ["example"]}
            return [sample.get(operand, _default_for(spec))], False
        if op == "$regex" and isinstance(operand, str):
            example = _regex_example(operand)
            return [example if example is not None else current], False
        if op == "$elemMatch" and isinstance(operand, Mapping):
            return [[element] for element in self._element(operand)], False
        return [current], False

    def _element(self, condition: Mapping[Any, Any]) -> list[Any]:
        """Example elements for ``$elemMatch``: a value condition, or a condition on objects."""
        if all(str(k).startswith("$") for k in condition):
            values: list[Any] = [_MISSING]
            for op, operand in condition.items():
                values = [
                    v for cur in values for v in self._operator(str(op), operand, None, cur)[0]
                ]
            return [v for v in values if v is not _MISSING][:MAX_ALTERNATIVES] or ["example"]
        element: dict[str, Any] = {}
        for key, value in condition.items():
            _set_path(element, str(key), value if not isinstance(value, Mapping) else "example")
        return [element]


class _MissingType:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _MissingType()


def _less(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def _validated(project: Project, raw: Mapping[str, Any]) -> Profile | None:
    try:
        return validate_profile(project.schema, raw)
    except ProfileError:
        return None


def segment_profile(
    project: Project, segment: str, selector: Selector | None = None
) -> SyntheticProfile:
    """A profile meant to be in ``segment``, verified with the real selector."""
    selector = selector or Selector(project)
    found = next(s for s in project.segments if s.name == segment)
    base = base_profile(project, f"synthetic-segment-{segment}")
    solver = _Solver(project)
    first: tuple[dict[str, Any], Profile] | None = None
    for candidate in solver.solve(found.condition.source, copy.deepcopy(base)):
        profile = _validated(project, candidate)
        if profile is None:
            continue
        if first is None:
            first = (candidate, profile)
        if segment in selector.segments_of(profile):
            return SyntheticProfile(
                f"segment:{segment}",
                segment,
                "segment",
                candidate,
                profile,
                False,
                "derived from the segment's condition and verified",
            )
    if first is None:
        profile = validate_profile(project.schema, base)
        first = (base, profile)
    return SyntheticProfile(
        f"segment:{segment}",
        segment,
        "segment",
        first[0],
        first[1],
        True,
        "approximate: no simple profile satisfies this segment's condition",
    )


def arm_profile(
    project: Project, campaign: str, experiment: ExperimentPlan, arm: str
) -> SyntheticProfile:
    """A profile whose deterministic id hashes into ``arm`` of ``experiment``."""
    label = f"{experiment.name}: {arm}"
    key = f"experiment:{experiment.name}:{arm}"
    for n in range(MAX_ARM_SEARCH):
        profile_id = f"synthetic-{experiment.name}-{arm}-{n}"
        if experiment.assign(profile_id, campaign) == arm:
            raw = base_profile(project, profile_id)
            profile = validate_profile(project.schema, raw)
            note = "holdout: gets no arm's atoms" if arm == HOLDOUT else f"hashes into arm {arm}"
            return SyntheticProfile(key, label, "experiment", raw, profile, False, note)
    raw = base_profile(project, f"synthetic-{experiment.name}-{arm}")
    profile = validate_profile(project.schema, raw)
    return SyntheticProfile(
        key, label, "experiment", raw, profile, True, f"approximate: no id found for arm {arm}"
    )


def synthetic_profiles(
    project: Project, campaign: str, selector: Selector | None = None
) -> list[SyntheticProfile]:
    """One profile per segment, then one per arm (and holdout) of the campaign's experiments."""
    selector = selector or Selector(project)
    rows = [segment_profile(project, segment.name, selector) for segment in project.segments]
    plan = selector.plan(campaign, dt.datetime.now(dt.UTC))
    for experiment in plan.experiments:
        arms = [name for name, _ in experiment.arms]
        if experiment.holdout > 0:
            arms.append(HOLDOUT)
        rows.extend(arm_profile(project, campaign, experiment, arm) for arm in arms)
    return rows
