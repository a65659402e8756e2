"""Call any controller by name: for controllers the library has no method for."""

import asyncio
import os

from thinknx_async import DeviceNotFoundError, Session

BEDROOM_THERMOSTAT = "5ThRmStAtBdRm01xQ9zPkw"


async def main() -> None:
    async with Session() as session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
        )

        # A documented controller, by hand: the reply's JSON object, as sent.
        body = await home.call("actualtemp", {"guid": BEDROOM_THERMOSTAT})
        print(body)

        # The spec names a Modality controller without giving its URL. The day a server
        # answers it, this works as is; until then the server says it does not know it.
        try:
            await home.call(
                "modality", {"guid": BEDROOM_THERMOSTAT, "cmd": 1}, feedback=True, idempotent=True
            )
        except DeviceNotFoundError as error:
            print("not on this server:", error.status_code, error.body)


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# {'namespace': 'actualtemp', 'guid': '5ThRmStAtBdRm01xQ9zPkw', 'status': 19.5, 'comm_obj': 31}
# not on this server: 404 {'error': 'device not found'}
