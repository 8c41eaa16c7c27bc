"""`python -m services.intent`: run the intent service."""

from servicekit.runner import serve
from services.intent.app import create_app
from services.intent.settings import IntentSettings


def main() -> None:
    settings = IntentSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
