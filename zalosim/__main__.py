"""``python -m zalosim`` / the ``zalosim`` console script: run the simulator."""

import logging

from aiohttp import web

from zalosim.app import create_app
from zalosim.settings import SimSettings


def main() -> None:
    settings = SimSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None)


if __name__ == "__main__":
    main()
