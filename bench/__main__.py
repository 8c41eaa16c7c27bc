"""`make bench`: every service's benchmark in one run → BENCHMARKS.md and bench/results.json.

Absolute times depend on the machine; the ratios measured side by side in the same run are the headline.
Each part is reproducible alone: `python -m bench.gateway`, `python -m bench.intent`,
`python -m bench.reports`, `python -m bench.news`, `python -m bench.news_rate`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("intent", "gateway", "reports", "news", "news_rate")

TARGETS = {
    "gateway_ingress_ratio": "≥ 0.4",
    "gateway_ingress_p99_ms": "≤ 50 at 1,000 webhooks/s",
    "egress_limit_adherence": "≥ 0.95 and ≤ 1.0",
    "intent_classify_p99_ms": "≤ 5",
    "intent_classify_per_s": "≥ 2,000 on one core",
    "e2e_reply_p99_ms": "≤ 300 at 200 messages/s",
    "e2e_ceiling_per_s": "≥ 200 for the target above to be reachable here (cores × 1000 / CPU ms per message)",
    "reports_list_p99_ms": "≤ 100 with 100,000 cases",
    "news_peak_rss_mb": "< 250",
    "broadcast_duplicates": "0",
    "broadcast_missed": "0",
    "news_send_vs_room": "≥ 0.95 of what the limit leaves after replies",
    "news_rate_limit_refusals": "0",
    "news_reply_during_campaign_p99_ms": "≈ news_reply_baseline_p99_ms (replies unharmed)",
}


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.platform()}"


def main(argv: list[str] | None = None) -> None:
    """`python -m bench` runs every part; `python -m bench intent news` re-runs those parts and keeps the
    other parts' figures from bench/results.json (BENCHMARKS.md says which parts were refreshed)."""
    import importlib
    import sys

    chosen = [p for p in (argv if argv is not None else sys.argv[1:]) if p in PARTS] or list(PARTS)
    results_path = ROOT / "bench" / "results.json"
    partial = len(chosen) < len(PARTS) and results_path.exists()
    results: dict[str, float] = json.loads(results_path.read_text()) if partial else {}
    failures: dict[str, str] = {}
    for part in chosen:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{part}")
            results |= module.run()
        except Exception as exc:  # one broken part must not hide the others' figures
            failures[part] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        results[f"bench_{part}_s"] = round(time.perf_counter() - started, 1)
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {_machine()}. Commit {commit.strip()}. Written by `make bench` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); the same figures are in `bench/results.json`."
        + (f" Refreshed only: {', '.join(chosen)}; other figures are from the previous run." if partial else ""),
        "",
        "Reproduce one part with `python -m bench.<part>` (gateway, intent, reports, news, news_rate) with Kafka and "
        "FerretDB running (`make infra`). Ratios compare two things measured side by side in the same run "
        "(gateway vs a bare aiohttp handler, classifier vs a keyword matcher, egress vs the simulator's limit).",
        "",
        "| figure | value | target |",
        "|---|---|---|",
    ]
    lines += [f"| `{k}` | {v} | {TARGETS.get(k, '')} |" for k, v in sorted(results.items())]
    if failures:
        lines += ["", "## Parts that failed", ""]
        lines += [f"- **{p}**: `{msg.splitlines()[0]}`" for p, msg in failures.items()]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
