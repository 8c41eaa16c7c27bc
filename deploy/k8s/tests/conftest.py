"""Fixtures of the offline manifest checks: the tools (installed on first use) and every rendering."""

from __future__ import annotations

import pytest

from deploy.k8s import tools as k8s_tools
from deploy.k8s.validate import Obj, Rendering, render, renderings


@pytest.fixture(scope="session")
def tools() -> k8s_tools.Tools:
    try:
        return k8s_tools.ensure()
    except k8s_tools.ToolError as exc:
        pytest.fail(f"the manifest tools could not be installed: {exc}")


_cache: dict[str, list[Obj]] = {}


@pytest.fixture(scope="session", params=renderings(), ids=lambda r: r.name)
def rendering(request: pytest.FixtureRequest) -> Rendering:
    return request.param


@pytest.fixture(scope="session")
def objects(tools: k8s_tools.Tools, rendering: Rendering) -> list[Obj]:
    """The rendering's objects (rendered once per session)."""
    if rendering.name not in _cache:
        _cache[rendering.name] = render(tools.kustomize, rendering)
    return _cache[rendering.name]
