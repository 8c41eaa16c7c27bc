"""`python -m contracts write|check`: regenerate or verify the checked-in contract files."""

from __future__ import annotations

import sys

from contracts.export import check, write_all


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["write"]:
        for path in write_all():
            print(f"wrote {path}")
        return 0
    if args[:1] == ["check"]:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m contracts write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
