"""`python -m services.news`: the news service."""

from servicekit.runner import serve
from services.news.app import create_app
from services.news.settings import NewsSettings


def main() -> None:
    settings = NewsSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
