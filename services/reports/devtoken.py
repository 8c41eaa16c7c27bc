"""`python -m services.reports.devtoken --sub u1 --role officer --unit hinhsu`: a local officer token.

Reads the same REPORTS_* environment as the service. Refuses unless REPORTS_ENVIRONMENT=dev: HS256
tokens are accepted only there; production tokens come from the identity provider (RS256).
"""

from __future__ import annotations

import argparse
import sys

from servicekit.auth import mint
from services.reports.auth import ROLES
from services.reports.settings import ReportsSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reports.devtoken", description=__doc__)
    parser.add_argument("--sub", required=True, help="officer id")
    parser.add_argument("--role", required=True, choices=sorted(ROLES))
    parser.add_argument("--unit", help="OA key of the officer's unit (required for officers)")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default 8 h)")
    args = parser.parse_args(argv)
    try:
        settings = ReportsSettings()
    except ValueError as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return 2
    secret = settings.effective_hs256_secret
    if secret is None:
        print("devtoken works only with REPORTS_ENVIRONMENT=dev", file=sys.stderr)
        return 2
    if args.role == "officer" and not args.unit:
        print("an officer token needs --unit", file=sys.stderr)
        return 2
    token = mint(
        secret.get_secret_value(),
        sub=args.sub,
        role=args.role,
        unit=args.unit,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=args.ttl,
    )
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
