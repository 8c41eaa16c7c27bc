"""The dashboards are well-formed, use the one datasource, and every expression parses (promtool)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from deploy.observability.queries import DATASOURCE_UID, dashboards, panel_queries, panels

OVERVIEW_PANELS = {
    "Webhooks /s by outcome",
    "Webhook latency",
    "Messages sent /s by lane",
    "Failures /s by Zalo error code",
    "Consumer lag by group",
    "Dead-lettered records",
    "Reports opened per hour by unit",
    "Time to acknowledge",
    "Broadcasts in flight",
}
SERVICE_DASHBOARDS = {"gateway-ingress", "gateway-egress", "intent", "reports", "news"}


def test_one_overview_and_one_dashboard_per_service() -> None:
    names = {Path(n).stem for n in dashboards()}
    assert names == SERVICE_DASHBOARDS | {"overview"}
    titles = {p.get("title") for p in panels(dashboards()["overview.json"])}
    assert not OVERVIEW_PANELS - titles, f"overview lacks {OVERVIEW_PANELS - titles}"


def test_every_panel_uses_the_fixed_datasource() -> None:
    for file, dash in dashboards().items():
        assert dash.get("uid", "").startswith("zan-"), f"{file}: uid"
        assert "zalo-an-ninh" in dash.get("tags", []), f"{file}: tag zalo-an-ninh (dashboard links use it)"
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                assert var["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, f"{file}: ${var['name']}"
        ids = [p["id"] for p in panels(dash)]
        assert len(ids) == len(set(ids)), f"{file}: duplicate panel ids"
        for p in panels(dash):
            where = f"{file} / panel {p.get('title')!r}"
            assert "gridPos" in p, f"{where}: no gridPos"
            if p["type"] == "row":
                continue
            assert p.get("datasource") == {"type": "prometheus", "uid": DATASOURCE_UID}, f"{where}: datasource"
            assert p.get("targets"), f"{where}: no query"
            for t in p["targets"]:
                assert t.get("datasource") == {"type": "prometheus", "uid": DATASOURCE_UID}, f"{where}: target"
                assert t.get("expr"), f"{where}: empty expression"


def test_every_expression_parses(promtool: Path, tmp_path: Path) -> None:
    # promtool has no "parse this expression" command: each one becomes a recording rule, which
    # `promtool check rules` parses with Prometheus's own parser.
    rules = []
    for i, q in enumerate(panel_queries()):
        rules.append({"record": f"dashboard:check:{i}", "expr": q.expr, "labels": {"source": q.source[:200]}})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, allow_unicode=True))
    done = subprocess.run(
        [str(promtool), "check", "rules", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        # Name the panel: map "group ..., rule N" back to its source.
        bad = [int(n) for n in re.findall(r"rule (\d+)", done.stdout + done.stderr)]
        sources = [rules[n - 1]["labels"]["source"] for n in bad if 0 < n <= len(rules)]
        raise AssertionError(f"{sources}\n{done.stdout}\n{done.stderr}")
