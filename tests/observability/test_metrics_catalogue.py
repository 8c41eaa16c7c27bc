"""docs/metrics.md lists every metric the code declares, and the dashboards and alerts use only those."""

from __future__ import annotations

from deploy.observability.queries import (
    TARGET_LABELS,
    alert_queries,
    base_name,
    catalogue,
    declared_in_code,
    panel_queries,
    usage,
)


def test_every_declared_metric_is_catalogued_as_declared() -> None:
    docs = catalogue()
    for name, m in declared_in_code().items():
        assert name in docs, f"{name} is declared in the code but not in docs/metrics.md"
        doc = docs[name]
        assert doc.status == "emitted", f"{name} is emitted now: move it out of the Planned table of docs/metrics.md"
        assert doc.type == m.type, f"{name}: docs/metrics.md says {doc.type}, the code {m.type}"
        assert doc.labels == m.labels, f"{name}: docs/metrics.md labels {sorted(doc.labels)}, code {sorted(m.labels)}"


def test_every_catalogued_service_metric_exists() -> None:
    code = declared_in_code()
    for name, doc in catalogue().items():
        if doc.status == "emitted":
            assert name in code, f"{name} is in docs/metrics.md but no service declares it (typo, or planned?)"


def test_dashboards_and_alerts_use_catalogued_metrics_and_labels() -> None:
    docs = catalogue()
    problems = []
    for q in panel_queries() + alert_queries():
        use = usage(q.expr)
        metrics = []
        for sel in use.selectors:
            if not sel.metric:
                problems.append(f"{q.source}: a selector without a metric name")
                continue
            name = base_name(sel.metric, docs)
            if name is None:
                problems.append(f"{q.source}: {sel.metric} is not in docs/metrics.md")
                continue
            metrics.append(docs[name])
            allowed = docs[name].labels | TARGET_LABELS
            problems += [f"{q.source}: {name} has no label {label}" for label in sel.labels - allowed]
        known = set(TARGET_LABELS).union(*(m.labels for m in metrics)) | {"le"}
        problems += [f"{q.source}: grouping by unknown label {label}" for label in use.grouping - known]
    assert not problems, "\n".join(problems)
