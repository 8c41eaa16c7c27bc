"""Every PromQL expression of the dashboards and alert rules, and the metric catalogue they must keep to.

Used by tests/observability: the static checks (parse, names and labels against docs/metrics.md) and
the live check against a real Prometheus scraping the local stack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = Path(__file__).resolve().parent
DASHBOARDS_DIR = OBSERVABILITY / "dashboards"
ALERTS_FILE = OBSERVABILITY / "alerts.yaml"
ALERT_TESTS_FILE = OBSERVABILITY / "alerts.test.yaml"
METRICS_DOC = REPO_ROOT / "docs" / "metrics.md"
RUNBOOKS_DOC = REPO_ROOT / "docs" / "runbooks.md"
DATASOURCE_UID = "zan-prometheus"

# Grafana's variables, as the live and static checks substitute them.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$namespace": ".*"}

# Labels Prometheus adds to every scraped series (the ServiceMonitor's target labels).
TARGET_LABELS = {"job", "namespace", "pod", "instance", "service", "container", "endpoint"}


@dataclass(frozen=True)
class Query:
    """One expression and where it comes from (for messages)."""

    source: str  # "dashboard overview.json / panel 'Webhooks /s by outcome' / A" or "alert WebhookServerErrors"
    expr: str  # variables substituted
    kind: str  # "panel" or "alert"


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included."""
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    return expr


def panel_queries() -> list[Query]:
    queries = []
    for file, dash in dashboards().items():
        for p in panels(dash):
            for t in p.get("targets", []):
                source = f"dashboard {file} / panel {p.get('title')!r} / {t.get('refId')}"
                queries.append(Query(source, substitute(t["expr"]), "panel"))
    return queries


def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def alert_queries() -> list[Query]:
    return [Query(f"alert {r['alert']}", r["expr"], "alert") for r in alert_rules()]


# -- a small PromQL reader: which metrics and which labels an expression uses ------------------------

_TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d+)?[smhdwy]?|=~|!~|!=|==|[{}()\[\],=]|\S'
)
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_OPERATORS = {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan"}
# Aggregations may be followed by their by/without clause instead of "(".
_AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
}


@dataclass
class Selector:
    """A metric named in an expression and the labels its matchers use."""

    metric: str
    labels: set[str] = field(default_factory=set)


@dataclass
class Usage:
    selectors: list[Selector]
    grouping: set[str]  # labels of by/without/on/ignoring/group_* clauses


def usage(expr: str) -> Usage:
    """The metric selectors and grouping labels of one expression (no full parse: promtool does that)."""
    tokens = _TOKEN.findall(expr)
    selectors: list[Selector] = []
    grouping: set[str] = set()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in _GROUPING and nxt == "(":
            j = i + 2
            while j < len(tokens) and tokens[j] != ")":
                if re.fullmatch(r"[a-zA-Z_]\w*", tokens[j]):
                    grouping.add(tokens[j])
                j += 1
            i = j + 1
            continue
        if tok == "{":  # a selector without a metric name: its labels still count
            j, labels = _matchers(tokens, i)
            selectors.append(Selector("", labels))
            i = j
            continue
        if (
            re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", tok)
            and nxt != "("
            and tok not in _OPERATORS | _GROUPING | _AGGREGATIONS
        ):
            sel = Selector(tok)
            if nxt == "{":
                i, sel.labels = _matchers(tokens, i + 1)
            else:
                i += 1
            selectors.append(sel)
            continue
        i += 1
    return Usage(selectors, grouping)


def _matchers(tokens: list[str], start: int) -> tuple[int, set[str]]:
    labels = set()
    j = start + 1
    while j < len(tokens) and tokens[j] != "}":
        if tokens[j + 1 : j + 2] and tokens[j + 1] in ("=", "!=", "=~", "!~"):
            labels.add(tokens[j])
        j += 1
    return j + 1, labels


# -- the catalogue (docs/metrics.md) and the metrics the code declares ---------------------------------


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: frozenset[str]
    status: str  # "emitted", "planned" or "external"


def catalogue() -> dict[str, Metric]:
    """The tables of docs/metrics.md: `| \\`name\\` | type | \\`label\\`, … | service | meaning |`.

    Rows under a heading containing "Planned" are planned; under "Prometheus and Kubernetes", external.
    """
    out: dict[str, Metric] = {}
    status = "emitted"
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            status = "planned" if "Planned" in line else "external" if "Kubernetes" in line else "emitted"
            continue
        m = re.match(r"\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(\w+)\s*\|([^|]*)\|", line)
        if m:
            labels = frozenset(re.findall(r"`(\w+)`", m.group(3)))
            out[m.group(1)] = Metric(m.group(1), m.group(2).lower(), labels, status)
    return out


_DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(zan_\w+)\"")


def declared_in_code() -> dict[str, Metric]:
    """Every zan_* metric the services and the kit declare (read from the source, not imported)."""
    out: dict[str, Metric] = {}
    roots = [REPO_ROOT / "servicekit", REPO_ROOT / "services"]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if {"tests", "tests_domain"} & set(path.relative_to(REPO_ROOT).parts):
                continue
            text = path.read_text(encoding="utf-8")
            for m in _DECLARATION.finditer(text):
                call = text[m.end() : text.find("registry=", m.end())]
                labels = re.search(r"\[([^\]]*)\]", call)
                names = frozenset(re.findall(r"\"(\w+)\"", labels.group(1))) if labels else frozenset()
                out[m.group(2)] = Metric(m.group(2), m.group(1).lower(), names, "emitted")
    return out


def base_name(series_name: str, known: dict[str, Metric]) -> str | None:
    """The catalogue name a series name belongs to (histogram suffixes resolved)."""
    if series_name in known:
        return series_name
    for suffix in ("_bucket", "_sum", "_count"):
        if series_name.endswith(suffix) and known.get(series_name[: -len(suffix)]):
            base = series_name[: -len(suffix)]
            if known[base].type in ("histogram", "summary"):
                return base
    return None
