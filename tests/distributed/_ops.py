"""Operations the tests run on the workers (pickled by value: the workers need not import us)."""

from __future__ import annotations

from thinknx_async import Fleet, Site


async def turn_on(site: Site, fleet: Fleet) -> None:
    """Switch the site's ``lobby`` light on: a command, so not idempotent by default."""
    await fleet.light(site, "lobby").turn_on()


async def status(site: Site) -> str:
    """The server's version: a read."""
    return (await site.server_status()).version
