"""Every object of every rendering is valid for the Kubernetes versions we support (and its CRD)."""

from __future__ import annotations

from deploy.k8s import tools as k8s_tools
from deploy.k8s.validate import Obj, Rendering, is_custom, validate_all


def test_renders_objects_in_its_namespace(objects: list[Obj], rendering: Rendering) -> None:
    namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    assert len(namespaces) == 1, f"{rendering.name}: expected one Namespace, got {namespaces}"
    (namespace,) = namespaces
    stray = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objects
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != namespace
    ]
    assert not stray, f"{rendering.name}: objects outside namespace {namespace}: {stray}"


def test_every_object_validates(objects: list[Obj], tools: k8s_tools.Tools) -> None:
    problems = validate_all(objects, tools)
    assert not problems, "\n".join(problems)


def test_custom_resources_are_only_known_kinds(objects: list[Obj]) -> None:
    # A kind with no schema here would pass unchecked: every kind must be core or have a CRD source.
    import kubernetes_validate

    unknown = []
    for obj in objects:
        if is_custom(obj):
            continue
        try:
            kubernetes_validate.validate(obj, k8s_tools.KUBERNETES_VERSIONS[0], strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.append(f"{obj['apiVersion']} {obj['kind']}/{obj['metadata']['name']}")
        except kubernetes_validate.ValidationError:
            pass  # reported by test_every_object_validates
    assert not unknown, f"no schema for: {unknown}"
