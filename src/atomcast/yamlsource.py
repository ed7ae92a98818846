"""YAML that remembers where each value came from.

Editors need ``PATH:LINE`` for the offending *key*, not line 1 of the file, so documents are
composed into nodes first and converted to plain Python values alongside a table from key
path to line number. The values stay plain (dict, list, str...) so that pydantic and the
condition compiler never see YAML types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from atomcast.errors import YamlSyntaxError

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_NODES",
    "FrontMatter",
    "KeyPath",
    "Located",
    "YamlSyntaxError",
    "deeper_than",
    "load_yaml",
    "split_front_matter",
    "to_json_compatible",
]

KeyPath = tuple[str | int, ...]

#: Deepest nesting of mappings and sequences a project file may have. Real files stay under
#: ten; the bound keeps libyaml's recursive composer (which crashes the interpreter on deep
#: input) and every recursive walk after it safe.
MAX_DEPTH = 64
#: Most values a document may expand to, aliases counted at their full size: a "billion
#: laughs" document is a few hundred bytes that expand to billions of values.
MAX_NODES = 200_000
#: Largest YAML text (characters) parsed at all; project files are far smaller.
MAX_CHARS = 4 * 1024 * 1024


@dataclass(slots=True)
class Located:
    """A parsed YAML document with the line of every key and item.

    :param data: the plain Python value.
    :param lines: 1-based line of each key path; the empty path is the document start.
    """

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int:
        """Line of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def sub(self, prefix: KeyPath) -> Located:
        """The part under ``prefix``, with its key paths made relative to it."""
        node: Any = self.data
        for key in prefix:
            node = node[key]
        n = len(prefix)
        lines = {p[n:]: ln for p, ln in self.lines.items() if p[:n] == prefix}
        return Located(node, lines)


_MERGE_TAG = "tag:yaml.org,2002:merge"

# libyaml's parser is several times faster and keeps the same node marks (line numbers).
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A SafeLoader of our own, so the resolver tweak below does not leak into PyYAML."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        #: How many pairs a merge (``<<: *defaults``) put first in each flattened mapping,
        #: by node: keys after them are the mapping's own. Kept per node because an alias
        #: visits a mapping again, already flattened, and a merge flattens its sources.
        self.merged: dict[int, int] = {}

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) in self.merged:
            return
        spelled = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        super().flatten_mapping(node)  # also flattens the merged mappings, through here
        self.merged[id(node)] = len(node.value) - spelled


# PyYAML's SafeLoader turns a bare ``=`` into a "value" tag nobody wants.
_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:value"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _convert(
    node: yaml.Node, loader: _LineLoader, path: KeyPath, lines: dict[KeyPath, int], offset: int
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1 + offset)
    if isinstance(node, yaml.MappingNode):
        # A merge (``<<: *defaults``) puts the merged pairs first; a key the mapping then
        # spells out itself overrides the merged one, as YAML's merge keys mean it. Only a
        # key spelled out twice in the mapping itself is a duplicate.
        loader.flatten_mapping(node)
        merged = loader.merged[id(node)]
        result: dict[Any, Any] = {}
        own: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSyntaxError(
                    "mapping keys must be plain scalars", key_node.start_mark.line + 1 + offset
                )
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise YamlSyntaxError(
                    "mapping keys must be plain scalars", key_node.start_mark.line + 1 + offset
                )
            skey = str(key) if not isinstance(key, str) else key
            child = (*path, skey)
            if index >= merged:
                if skey in own:
                    raise YamlSyntaxError(
                        f"duplicate key {skey!r}", key_node.start_mark.line + 1 + offset
                    )
                own.add(skey)
            lines[child] = key_node.start_mark.line + 1 + offset
            result[skey] = _convert(value_node, loader, child, lines, offset)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1 + offset
            items.append(_convert(item, loader, child, lines, offset))
        return items
    return loader.construct_object(node, deep=True)


def _check_bounds(text: str, line_offset: int) -> None:
    """Refuse documents too deep, too large once expanded, or with recursive aliases.

    Works on libyaml's event stream, which is flat (no recursion) and stops at the first
    offence, so a hostile document costs only the bytes read up to it.

    :raises YamlSyntaxError: at the line of the offending collection or alias.
    """
    if len(text) > MAX_CHARS:
        raise YamlSyntaxError(
            f"document is {len(text):,} characters; the limit is {MAX_CHARS:,}", 1 + line_offset
        )
    if "&" not in text and len(text) < MAX_NODES:
        # No anchor, so no alias to expand; each level of nesting needs a new line, a
        # bracket, '-' or '?', so a document with fewer of those cannot nest too deep.
        openers = text.count("\n") + sum(text.count(c) for c in "[{-?")
        if openers < MAX_DEPTH:
            return
    parser = _BaseLoader(text)
    # One entry per open collection: [expanded size so far, its anchor or None].
    open_nodes: list[list[Any]] = []
    anchors: dict[str, int] = {}
    total = 0
    try:
        while parser.check_event():
            event = parser.get_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1 + line_offset
            size = 0
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_nodes) >= MAX_DEPTH:
                    raise YamlSyntaxError(f"nested more than {MAX_DEPTH} levels deep", line)
                # An alias inside refers to this collection, even if the name was used before.
                anchors.pop(event.anchor or "", None)
                open_nodes.append([1, event.anchor])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                size, anchor = open_nodes.pop()
                if anchor is not None:
                    anchors[anchor] = size
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    if any(node[1] == event.anchor for node in open_nodes):
                        raise YamlSyntaxError(
                            f"recursive alias *{event.anchor} (it refers to a value that "
                            "contains it)",
                            line,
                        )
                    continue  # an unknown anchor: the composer reports it with its line
                size = anchors[event.anchor]
                total += size
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                total += 1
                if event.anchor is not None:
                    anchors[event.anchor] = 1
            else:
                continue
            if open_nodes:
                open_nodes[-1][0] += size
            if total > MAX_NODES:
                raise YamlSyntaxError(
                    f"expands to more than {MAX_NODES:,} values (aliases counted at full "
                    "size): refused as an alias bomb",
                    line,
                )
    finally:
        parser.dispose()


def load_yaml(text: str, line_offset: int = 0) -> Located:
    """Parse one YAML document.

    Bounded: see :data:`MAX_DEPTH`, :data:`MAX_NODES` and :data:`MAX_CHARS`.

    :param line_offset: added to every line, for YAML embedded in a larger file (front matter).
    :raises YamlSyntaxError: with the line of the problem.
    """
    loader = _LineLoader(text)
    try:
        _check_bounds(text, line_offset)
        node = loader.get_single_node()
        if node is None:
            return Located(None, {(): 1 + line_offset})
        lines: dict[KeyPath, int] = {}
        data = _convert(node, loader, (), lines, line_offset)
        lines[()] = 1 + line_offset
        return Located(data, lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # An unclosed bracket or quote is noticed lines later; the editor needs the opening.
        context = exc.context or ""
        if exc.context_mark is not None and ("flow" in context or "quoted scalar" in context):
            mark = exc.context_mark
        line = (mark.line + 1 if mark else 1) + line_offset
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise YamlSyntaxError(f"malformed YAML: {problem}{context}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"malformed YAML: {exc}", 1 + line_offset) from None
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A file split into YAML front matter and body.

    :param meta: the front matter, lines counted from the top of the whole file.
    :param body: everything after the closing ``---``.
    :param body_line: the 1-based line where the body starts.
    """

    meta: Located
    body: str
    body_line: int


def split_front_matter(text: str) -> FrontMatter:
    """Split ``---``-fenced YAML front matter from the body.

    A file without front matter yields an empty mapping and the whole text as body.

    :raises YamlSyntaxError: when the front matter is opened but never closed, or malformed.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return FrontMatter(Located({}, {(): 1}), text, 1)
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            meta = load_yaml("".join(lines[1:index]), line_offset=1)
            if meta.data is None:
                meta = Located({}, {(): 1})
            return FrontMatter(meta, "".join(lines[index + 1 :]), index + 2)
    raise YamlSyntaxError("front matter opened with '---' is never closed", 1)


def deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def to_json_compatible(value: Any) -> Any:
    """Dates and datetimes as ISO strings, recursively; everything else unchanged."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_compatible(v) for v in value]
    return value
