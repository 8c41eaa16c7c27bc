"""`python -m services.console`: the officer console (static pages and a same-origin API proxy)."""

from servicekit.runner import serve
from services.console.app import create_app
from services.console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
