"""Asyncio client for the Thinknx Integration Kit."""
