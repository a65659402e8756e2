"""Throttling and retries: the defaults, and how to tune them."""

import asyncio
import os

from thinknx_async import RateLimit, RetryPolicy, Session

LIGHTS = ["1IzPszHWAEuvzxtXBMkzWQ", "7Hq2LrT9bWzXc4NpVd8KsA"]


async def main() -> None:
    session = Session(
        rate_limit=RateLimit(rate=10.0, burst=5),  # what each server accepts
        retry=RetryPolicy(max_attempts=5, backoff=0.5, deadline=30.0),
        timeout=5.0,
    )
    async with session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
            max_in_flight=2,  # the default for a local server
        )
        # Twenty reads at once: the site's bucket spaces them out, none is refused.
        states = await asyncio.gather(*(home.light(LIGHTS[i % 2]).is_on() for i in range(20)))
        print(len(states), "reads, all answered")

        bucket = home.bucket
        assert bucket is not None
        print(f"rate in force: {bucket.rate:g}/s of {bucket.limit.rate:g}/s")
        print(f"bucket holds {bucket.limit.capacity:g} tokens")

        # A site of its own: a slower server, or none of the throttling at all.
        slow = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
            rate_limit=RateLimit(rate=1.0, burst=2),
        )
        print("slow site limit:", slow.rate_limit)


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# 20 reads, all answered
# rate in force: 10/s of 10/s
# bucket holds 4.5 tokens
# slow site limit: RateLimit(rate=1.0, burst=2, jitter=0.05, adaptive=True, ceiling=None)
