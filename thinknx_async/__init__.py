"""Asyncio client for the Thinknx Integration Kit REST API.

Typed, throttled per site, retried without ever doubling a command, and built to drive one
house or fan a command out to hundreds of sites.
"""

from ._stats import RequestStats, count_requests
from ._transport import PoolStats
from .controllers import Controller, declare
from .devices import Analog, Blind, Button, Device, Hvac, Knx, Light, Scene, Thermostat
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CertificateError,
    ConnectError,
    DeviceNotFoundError,
    ExecutionError,
    ProtocolError,
    RateLimitedError,
    RedirectError,
    ServerError,
    SessionError,
    ThinknxError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from .fanout import FanOut, Outcome, Report, Summary
from .inventory import Alias, Fleet, Inventory, InventoryError, Secret, SiteEntry
from .knx import GroupAddress, Rule
from .models import CommandResult, KnxResult, ServerStatus
from .retry import RetryPolicy
from .session import (
    CLOUD_URL,
    DEFAULT_RATE_LIMIT,
    USE_SESSION_DEFAULT,
    InsecureCredentialsWarning,
    InsecureTLSWarning,
    Session,
    UseSessionDefault,
)
from .site import Site
from .state import State
from .throttle import RateLimit, TokenBucket
from .watch import Change, Watch, WatchError

__version__ = "0.1.0"
"""The version of this package."""

__all__ = [
    "CLOUD_URL",
    "DEFAULT_RATE_LIMIT",
    "USE_SESSION_DEFAULT",
    "Alias",
    "Analog",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "Blind",
    "Button",
    "CertificateError",
    "Change",
    "CommandResult",
    "ConnectError",
    "Controller",
    "Device",
    "DeviceNotFoundError",
    "ExecutionError",
    "FanOut",
    "Fleet",
    "GroupAddress",
    "Hvac",
    "InsecureCredentialsWarning",
    "InsecureTLSWarning",
    "Inventory",
    "InventoryError",
    "Knx",
    "KnxResult",
    "Light",
    "Outcome",
    "PoolStats",
    "ProtocolError",
    "RateLimit",
    "RateLimitedError",
    "RedirectError",
    "Report",
    "RequestStats",
    "RetryPolicy",
    "Rule",
    "Scene",
    "Secret",
    "ServerError",
    "ServerStatus",
    "Session",
    "SessionError",
    "Site",
    "SiteEntry",
    "State",
    "Summary",
    "Thermostat",
    "ThinknxError",
    "TimeoutError",
    "TokenBucket",
    "TransportError",
    "UseSessionDefault",
    "ValidationError",
    "Watch",
    "WatchError",
    "__version__",
    "count_requests",
    "declare",
]
