"""``python -m webapp [--port 8080]``: serve the demo page, the widget and the staff console."""

from __future__ import annotations

import argparse
import logging

from clinic import settings
from webapp.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.get("WEB_HOST"))
    parser.add_argument("--port", type=int, default=settings.get_int("WEB_PORT", minimum=1))
    args = parser.parse_args()
    logging.basicConfig(level=settings.get("LOG_LEVEL"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    app.run(host=args.host, port=args.port, access_log=False, motd=False, workers=1)


if __name__ == "__main__":
    main()
