"""What every loading step shares: the problems found so far and the project's bounds."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from atomcast import models
from atomcast.conditions import check_condition
from atomcast.errors import InputTooLargeError, Problem, Severity, relative_path
from atomcast.paths import MAX_FILE_BYTES, confined, read_limited
from atomcast.project.model import ATOM_NAMES, Project
from atomcast.schema import ProfileSchema
from atomcast.templating import analyse
from atomcast.yamlsource import KeyPath, Located

#: A BCP 47 language tag (RFC 5646 ``langtag``, without grandfathered tags): ``fr``,
#: ``fr-CA``, ``zh-Hant-TW``, ``es-419``. ``fr_FR`` is not one and matches no profile.
BCP47: Final = re.compile(
    r"(?i)[a-z]{2,3}(?:-[a-z]{3}){0,3}"
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?"
)

#: The models whose field names an unknown key is compared with: the error does not say
#: which model rejected the key, and the common models cover typos.
_TYPO_MODELS: Final[tuple[type[BaseModel], ...]] = (
    models.ProjectConfig,
    models.BrandConfig,
    models.LocalesConfig,
    models.AttributeConfig,
    models.CampaignConfig,
    models.ChannelConfig,
    models.SlotConfig,
    models.ExperimentConfig,
    models.AtomSpec,
    models.AssetsConfig,
    models.MetricConfig,
)


class ProblemList:
    """Collects problems with paths made relative to the project root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[Problem] = []

    def add(self, path: Path | str, line: int, message: str, severity: Severity = "error") -> None:
        shown = relative_path(path, self.root) if isinstance(path, Path) else path
        self.items.append(Problem(shown, max(line, 1), severity, message))

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.items)

    def errors_since(self, mark: int) -> bool:
        """Whether an error was added after ``len(self.items)`` was ``mark``."""
        return any(p.is_error for p in self.items[mark:])


class LoadContext:
    """The state one load builds up, shared by the steps in :mod:`atomcast.project`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root_resolved = root.resolve()
        self.problems = ProblemList(root)
        self.source_lines: dict[str, Located] = {}
        self.broken_layouts: set[tuple[str, str]] = set()
        #: Sections of a faulty atomcast.yaml replaced by stand-ins (brand, profile, ...).
        self.degraded: set[str] = set()
        #: Profile attributes whose declaration failed: uses of them are not reported again.
        self.unknown_attributes: set[str] = set()
        #: With a faulty atomcast.yaml: the project built from what did load, for ``check``.
        self.partial: Project | None = None

    def escapes(self, path: Path, what: str) -> bool:
        """Whether ``path`` resolves outside the project; reported as an error when so."""
        if confined(self.root_resolved, path) is not None:
            return False
        try:
            target = str(path.resolve())
        except (OSError, RuntimeError):
            target = "a symlink loop"
        try:
            shown = path.relative_to(self.root).as_posix()
        except ValueError:
            shown = path.as_posix()
        self.problems.add(
            shown,
            1,
            f"{what} resolves outside the project (to {target}): not read; project files "
            "must lie inside the project folder",
        )
        return True

    def read_text(self, path: Path) -> str | None:
        """The file's text, or ``None`` with the reason reported."""
        try:
            return read_limited(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.add(path, 1, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
        except InputTooLargeError:
            self.problems.add(path, 1, too_large())
        except OSError as exc:
            self.problems.add(path, 1, f"cannot read: {exc.strerror}")
        return None

    def validation_problems(
        self, error: ValidationError, located: Located, path: Path, prefix: KeyPath = ()
    ) -> None:
        """Each pydantic error as a problem at the line of the key it is about."""
        for item in error.errors(include_url=False):
            loc = tuple(part for part in item["loc"] if part != "[key]")
            # model_validator errors carry no field; point at the mapping that holds them.
            keypath: KeyPath = prefix + tuple(p for p in loc if isinstance(p, str | int))
            self.problems.add(path, located.line_of(keypath), _validation_message(item, loc))

    def check_template(
        self,
        source: str,
        path: str,
        line: int,
        what: str,
        schema: ProfileSchema,
        mode: str = "text",
        names: frozenset[str] = ATOM_NAMES,
    ) -> bool:
        """Parse a template and check its names and profile references; True when it parses."""
        try:
            analysis = analyse(source, "html" if mode == "html" else "text")
        except TemplateSyntaxError as exc:
            self.problems.add(
                path, line + (exc.lineno or 1) - 1, f"{what}: template error: {exc.message}"
            )
            return False
        for name in sorted(analysis.names - names):
            close = difflib.get_close_matches(name, sorted(names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.problems.add(
                path,
                line,
                f"{what}: unknown variable '{name}'{hint}; templates here see "
                f"{', '.join(sorted(names))}",
            )
        for method, method_line in analysis.methods:
            # ``profile.items()`` would print every attribute, sensitive ones included.
            self.problems.add(
                path,
                line + method_line - 1,
                f"{what}: profile.{method} is a method of the profile mapping, not an "
                f"attribute: read attributes by name (profile['{method}'] for one called "
                f"'{method}')",
            )
        sensitive = schema.sensitive_names
        for ref in analysis.references:
            if (ref.attribute.split(".")[0], ref.line) in analysis.methods:
                continue  # reported above
            ref_line = line + ref.line - 1
            spec = schema.resolve(ref.attribute)
            if spec is False and not schema.names_a_method(ref.attribute):
                known = difflib.get_close_matches(ref.attribute, list(schema.attributes), n=1)
                hint = f" (did you mean '{known[0]}'?)" if known else ""
                self.problems.add(
                    path,
                    ref_line,
                    f"{what}: profile.{ref.attribute} is not in the profile schema{hint}",
                )
            elif ref.printed and ref.attribute.split(".")[0] in sensitive:
                self.problems.add(
                    path,
                    ref_line,
                    f"{what}: prints sensitive attribute profile.{ref.attribute}; "
                    "sensitive attributes may be used in rules, never printed",
                )
        return True

    def check_condition(
        self,
        condition: Any,
        schema: ProfileSchema,
        segment_names: Iterable[str],
        located: Located,
        prefix: KeyPath,
        path: Path,
        what: str,
    ) -> bool:
        """Report the condition's problems at their lines; True when it has none."""
        issues = check_condition(condition, schema, list(segment_names))
        ignore = self.unknown_attributes
        if ignore:
            # Attributes whose own declaration failed: that error is reported once, at it.
            issues = [i for i in issues if not ignore.intersection(map(str, i.where))]
        for issue in issues:
            line = located.line_of(prefix + tuple(issue.where))
            self.problems.add(path, line, f"{what}: {issue}")
        return not issues


def _describe_loc(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "[key]") or "(document)"


def _validation_message(item: Any, loc: tuple[str | int, ...]) -> str:
    kind = item["type"]
    where = _describe_loc(loc)
    if kind == "extra_forbidden":
        message = f"unknown field '{loc[-1]}'" + (
            f" in {_describe_loc(loc[:-1])}" if len(loc) > 1 else ""
        )
        siblings = [name for model in _TYPO_MODELS for name in model.model_fields]
        close = difflib.get_close_matches(str(loc[-1]), siblings, n=1)
        if close:
            message += f" (did you mean '{close[0]}'?)"
        return message
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind == "literal_error":
        expected = item.get("ctx", {}).get("expected", "")
        return f"{where}: {item['input']!r} is not allowed; expected {expected}"
    if kind == "value_error":
        return f"{where}: {str(item['msg']).removeprefix('Value error, ')}"
    return f"{where}: {item['msg']} (got {item['input']!r})"


def too_large() -> str:
    """The problem of a file over the size limit."""
    return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: not read"


def file_fingerprint(data: bytes) -> str:
    """A short content hash, for cache keys."""
    return hashlib.sha256(data).hexdigest()[:16]


def locale_problem(locale: str) -> str | None:
    """Why ``locale`` is not a BCP 47 tag, with the likely intended tag; ``None`` when it is."""
    if BCP47.fullmatch(locale):
        return None
    fixed = locale.replace("_", "-")
    hint = f" (did you mean '{fixed}'?)" if fixed != locale and BCP47.fullmatch(fixed) else ""
    return (
        f"locale {locale!r} is not a BCP 47 tag{hint}: profiles carry tags such as 'fr-CA', "
        "so it would never match"
    )
