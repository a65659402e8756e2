"""What goes wrong, how it is reported, and what to do about it."""

import asyncio
import os

from thinknx_async import (
    ApiError,
    AuthenticationError,
    DeviceNotFoundError,
    ExecutionError,
    Session,
    ThinknxError,
    TransportError,
    ValidationError,
)

HOST = os.environ.get("THINKNX_HOST", "192.168.1.10")
PORT = int(os.environ.get("THINKNX_PORT", "5051"))
USER = os.environ["THINKNX_USER"]
PASSWORD = os.environ["THINKNX_PASSWORD"]
PORCH_LIGHT = "7Hq2LrT9bWzXc4NpVd8KsA"  # on/off only: it cannot dim
LIVING_ROOM_BLIND = "3BlNdLvNgRmWnDw0Sth4Ea"


async def main() -> None:
    async with Session() as session:
        home = session.local(HOST, port=PORT, username=USER, password=PASSWORD)

        try:
            await home.blind(LIVING_ROOM_BLIND).set_height(120)
        except ValidationError as error:  # also a ValueError; nothing was sent
            print("refused:", error, "| attempts:", error.attempts)

        try:
            await home.light("NoSuchDevice0000000000").turn_on()
        except DeviceNotFoundError as error:  # unknown GUID, or no access to it
            print("not found:", error.status_code, error.body)

        try:
            await home.light(PORCH_LIGHT).set_level(50)
        except ExecutionError as error:  # the device cannot do that
            print("cannot execute:", error.status_code, error.body)

        intruder = session.local(HOST, port=PORT, username=USER, password="not-the-password")
        try:
            await intruder.server_status()
        except AuthenticationError as error:  # fix the credentials; retrying will not help
            print("credentials refused:", error.status_code)

        # One handler for the rest, most specific first.
        try:
            await home.light(PORCH_LIGHT).turn_on()
        except TransportError as error:
            print("network:", error, "| certainly not run:", error.never_sent)
        except ApiError as error:
            print("server said no:", error.status_code, error.body)
        except ThinknxError as error:
            print("other:", error)
        else:
            print("porch light on")


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# refused: height must be an integer 0..100, got 120 | attempts: 0
# not found: 404 {'error': 'device not found'}
# cannot execute: 400 {'error': 'impossible to execute'}
# credentials refused: 403
# porch light on
