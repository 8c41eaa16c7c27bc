"""`python -m services.reports.rekey [--dry-run]`: re-seal every stored Zalo id with the current key.

Key rotation: (1) generate a key, make it current (REPORTS_REPORTER_KEY_ID / REPORTS_REPORTER_KEY) and move
the previous one into REPORTS_REPORTER_OLD_KEYS; roll the deployment (new values use the new key, old ones
still open). (2) Run this command once. (3) Drop the old key from REPORTS_REPORTER_OLD_KEYS.
Run it in a quiet hour: on FerretDB an update rewrites the whole document, so a case changed in the same
instant may show its previous state in the list until its next change.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.reports.crypto import ReporterCipher
from services.reports.settings import ReportsSettings


@dataclass
class RekeyReport:
    resealed: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)


async def rekey(db: AsyncDatabase, cipher: ReporterCipher, *, dry_run: bool = False) -> RekeyReport:
    """Re-seal sealed ids not under the current key: cases, notices, notice steps, handoffs."""
    report = RekeyReport()
    targets: list[tuple[str, str, Callable[[dict], str]]] = [
        ("cases", "reporter_sealed", lambda d: f"reporter:{d['_id']}"),
        ("notices", "sealed_user", lambda d: f"notice:{d['_id']}"),
        ("notice_steps", "state.sealed_user", lambda d: f"notice:{d['notice_id']}"),
        ("handoffs", "sealed_user", lambda d: f"handoff:{d['_id']}"),
    ]
    for collection, path, context in targets:
        resealed = current = 0
        async for doc in db[collection].find({}):
            sealed = _get(doc, path)
            if not sealed:
                continue
            if not cipher.needs_rekey(sealed):
                current += 1
                continue
            if not dry_run:
                await db[collection].update_one(
                    {"_id": doc["_id"]}, {"$set": {path: cipher.reseal(sealed, context(doc))}}
                )
            resealed += 1
        report.resealed[collection], report.current[collection] = resealed, current
    return report


def _get(doc: dict, path: str) -> str | None:
    value: object = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if isinstance(value, str) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reports.rekey", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="count only")
    args = parser.parse_args(argv)
    settings = ReportsSettings()

    async def run() -> RekeyReport:
        client = AsyncMongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
        try:
            return await rekey(client[settings.database], ReporterCipher.from_settings(settings), dry_run=args.dry_run)
        finally:
            await client.close()

    report = asyncio.run(run())
    for name in report.resealed:
        verb = "to re-seal" if args.dry_run else "re-sealed"
        print(f"{name}: {report.resealed[name]} {verb}, {report.current[name]} already current", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
