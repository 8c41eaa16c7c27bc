"""Printing a part's figures when it runs alone (`python -m bench.<part>`)."""

from __future__ import annotations

import json


def print_figures(results: dict[str, float]) -> None:
    """One aligned line per figure, then the same as one JSON object."""
    width = max(len(k) for k in results)
    for name, value in results.items():
        print(f"{name:<{width}}  {value:12,.1f}")
    print(json.dumps(results))
