"""The alert rules parse, pass their unit tests, and each has a firing and a quiet test and a runbook."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from deploy.k8s.generate import BASE as K8S_BASE
from deploy.k8s.generate import prometheus_rule
from deploy.observability.queries import ALERT_TESTS_FILE, ALERTS_FILE, RUNBOOKS_DOC, alert_rules


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)


def test_promtool_check_rules(promtool: Path) -> None:
    done = _run([str(promtool), "check", "rules", str(ALERTS_FILE)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests(promtool: Path) -> None:
    done = _run([str(promtool), "test", "rules", str(ALERT_TESTS_FILE)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = yaml.safe_load(ALERT_TESTS_FILE.read_text(encoding="utf-8"))["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert not names - fires, f"alerts no test fires: {sorted(names - fires)}"
    assert not names - quiet, f"alerts no test keeps quiet: {sorted(names - quiet)}"


def _anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the headings."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(text.replace(" ", "-"))
    return out


def test_every_alert_is_documented() -> None:
    anchors = _anchors(RUNBOOKS_DOC.read_text(encoding="utf-8"))
    for rule in alert_rules():
        name = rule["alert"]
        ann = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert ann.get(key), f"alert {name}: no {key}"
        assert rule.get("labels", {}).get("severity") in ("critical", "warning"), f"alert {name}: severity"
        anchor = ann["runbook_url"].rsplit("#", 1)[-1]
        assert ann["runbook_url"].split("#")[0].endswith("docs/runbooks.md"), f"alert {name}: runbook_url"
        assert anchor == name.lower(), f"alert {name}: runbook anchor {anchor}"
        assert anchor in anchors, f"alert {name}: docs/runbooks.md has no section {name}"
        assert "$value" not in ann["summary"] + ann["description"], f"alert {name}: annotations must not use $value"


def test_prometheus_rule_manifest_is_generated_from_the_rules() -> None:
    path = K8S_BASE / "observability" / "observability-prometheusrule.yaml"
    assert path.read_text(encoding="utf-8") == prometheus_rule(), "run `python -m deploy.k8s.generate`"
