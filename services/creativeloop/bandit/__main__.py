"""`python -m creativeloop.bandit`: the bandit stream service process."""

from __future__ import annotations

import asyncio

from creativeloop.bandit.service import serve
from creativeloop.bandit.settings import BanditSettings
from creativeloop.kit.logs import configure_logging


def main() -> None:
    settings = BanditSettings()
    configure_logging(settings.common, "bandit")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
