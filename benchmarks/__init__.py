"""Benchmarks of thinknx_async against bare httpx and aiohttp (scripts, not tests).

``python -m benchmarks`` runs them all; ``python -m benchmarks.NAME`` runs one.
"""
