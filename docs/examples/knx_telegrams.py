"""Raw KNX telegrams to group addresses, with no UI object behind them."""

import asyncio
import os

from thinknx_async import GroupAddress, Session, ValidationError


async def main() -> None:
    async with Session() as session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
        )
        knx = home.knx

        await knx.send_bit("1/0/1", 1)  # DPT 1: one bit, 0 or 1
        await knx.send_byte("1/0/2", 128)  # DPT 5: one byte, 0..255
        reply = await knx.send_float("2/1/10", 21.5)  # DPT 9: 2-byte float
        print(reply)

        address = GroupAddress.parse("2/1/10")  # or GroupAddress(2, 1, 10)
        print(address.main, address.middle, address.sub, "->", address)
        await knx.send_float(address, -4.25)

        for bad in ("32/0/1", "1/8/1", "1-0-1"):
            try:
                GroupAddress.parse(bad)
            except ValidationError as error:
                print(error)
        try:
            await knx.send_byte("1/0/2", 300)  # refused before anything is sent
        except ValidationError as error:
            print(error)


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# KnxResult(namespace='system/sendKNXfloat2bytes', group='2/1/10', value=21.5)
# 2 1 10 -> 2/1/10
# group address main group 32 is outside 0..31
# group address middle group 8 is outside 0..7
# malformed group address '1-0-1': expected main/middle/sub
# DPT 5 value must be an integer 0..255, got 300
