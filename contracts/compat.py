"""Backward-compatibility check between two JSON Schemas of the same topic.

A change is backward compatible when a consumer built on the new schema still reads every record
written under the old one, and an old consumer still finds every field it used. Breaking: a field
removed, a field retyped (its set of JSON types or enum values narrowed), an optional field made
required, a new required field.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every breaking difference from `old` to `new`, as readable strings (empty when compatible)."""
    problems: list[str] = []
    _compare(old, new, "$", old.get("$defs", {}), new.get("$defs", {}), problems, set())
    return problems


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _variants(node: Schema, defs: dict[str, Schema]) -> list[Schema]:
    node = _resolve(node, defs)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: list[Schema] = []
            for v in node[key]:
                out.extend(_variants(v, defs))
            return out
    return [node]


def _types(node: Schema, defs: dict[str, Schema]) -> set[str]:
    types: set[str] = set()
    for v in _variants(node, defs):
        if "const" in v:
            types.add(f"const:{v['const']!r}")
        elif "enum" in v:
            types.update(f"const:{e!r}" for e in v["enum"])
        elif "type" in v:
            t = v["type"]
            types.update(t if isinstance(t, list) else [t])
        elif "properties" in v:
            types.add("object")
        else:
            types.add("any")
    return types


def _widened(old: set[str], new: set[str]) -> bool:
    """True when every old type is still accepted by the new set."""
    if "any" in new:
        return True
    for t in old:
        if t in new:
            continue
        if t.startswith("const:") and any(n in new for n in ("string", "integer", "number", "boolean")):
            continue
        if t == "integer" and "number" in new:
            continue
        return False
    return True


def _object_variant(node: Schema, defs: dict[str, Schema]) -> Schema | None:
    for v in _variants(node, defs):
        if "properties" in v:
            return v
    return None


def _array_items(node: Schema, defs: dict[str, Schema]) -> Schema | None:
    for v in _variants(node, defs):
        if v.get("type") == "array" and isinstance(v.get("items"), dict):
            return v["items"]
    return None


def _compare(
    old: Schema,
    new: Schema,
    path: str,
    old_defs: dict[str, Schema],
    new_defs: dict[str, Schema],
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    marker = (id(_resolve(old, old_defs)), id(_resolve(new, new_defs)))
    if marker in seen:
        return
    seen.add(marker)

    old_types, new_types = _types(old, old_defs), _types(new, new_defs)
    if not _widened(old_types, new_types):
        problems.append(f"{path}: retyped from {sorted(old_types)} to {sorted(new_types)}")
        return

    old_obj, new_obj = _object_variant(old, old_defs), _object_variant(new, new_defs)
    if old_obj is not None and new_obj is not None:
        old_props, new_props = old_obj.get("properties", {}), new_obj.get("properties", {})
        old_req, new_req = set(old_obj.get("required", [])), set(new_obj.get("required", []))
        for name, old_prop in old_props.items():
            if name not in new_props:
                problems.append(f"{path}.{name}: removed")
                continue
            _compare(old_prop, new_props[name], f"{path}.{name}", old_defs, new_defs, problems, seen)
        for name in sorted(new_req - old_req):
            if name in old_props:
                problems.append(f"{path}.{name}: optional field made required")
            else:
                problems.append(f"{path}.{name}: new required field")

    old_items, new_items = _array_items(old, old_defs), _array_items(new, new_defs)
    if old_items is not None and new_items is not None:
        _compare(old_items, new_items, f"{path}[]", old_defs, new_defs, problems, seen)
