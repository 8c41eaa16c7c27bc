"""`python -m services.reports`: the reports service."""

from __future__ import annotations

from servicekit.runner import serve
from services.reports.app import create_app
from services.reports.settings import ReportsSettings


def main() -> None:
    settings = ReportsSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
