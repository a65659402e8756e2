"""Raw KNX telegrams to group addresses: the ``system/sendKNX...`` entries of the table."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from .controllers import Controller, builtin
from .errors import ValidationError
from .knx import GroupAddress, check_group
from .models import KnxResult, structure

if TYPE_CHECKING:
    from .site import Site

__all__ = ["Knx"]

_KNX_BIT: Final = builtin("system/sendKNXbit")
_KNX_BYTE: Final = builtin("system/sendKNXbyte")
_KNX_FLOAT: Final = builtin("system/sendKNXfloat2bytes")


@attrs.frozen(slots=True, repr=False)
class Knx:
    """Raw KNX telegrams to group addresses (``system/sendKNX...``).

    Telegrams are never re-sent once they may have reached the bus: a second one could step a
    dimmer or flip a toggle again.
    """

    site: Site

    def __repr__(self) -> str:
        return f"<Knx on {self.site.name!r}>"

    async def send(
        self,
        controller: Controller[Any],
        group: str | GroupAddress,
        value: Any,
        *,
        allow_broadcast: bool = False,
    ) -> KnxResult:
        """Send the telegram of a KNX ``controller`` (``system/sendKNX...``) with ``value``,
        checked by its rule; the ``send_*`` methods are this, typed."""
        if not isinstance(controller, Controller) or controller.kind != "knx":
            raise ValidationError(f"{controller!r:.60} is not a KNX controller")
        address = str(check_group(group, allow_broadcast=allow_broadcast))
        query = f"group={address}&{controller.encode(value)}"
        body = await self.site.request(controller.endpoint, query)
        return structure(body, KnxResult, what=f"{controller.name} reply")

    async def send_bit(
        self, group: str | GroupAddress, value: int | bool, *, allow_broadcast: bool = False
    ) -> KnxResult:
        """Send a DPT 1 (1-bit) telegram: ``value`` 0 or 1.

        ``0/0/0`` is KNX's broadcast address, heard by every device on the bus: it is refused
        unless ``allow_broadcast=True`` (the same holds for every ``send_*`` method).
        """
        return await self.send(_KNX_BIT, group, value, allow_broadcast=allow_broadcast)

    async def send_byte(
        self, group: str | GroupAddress, value: int, *, allow_broadcast: bool = False
    ) -> KnxResult:
        """Send a DPT 5 (1-byte unsigned) telegram: ``value`` 0..255."""
        return await self.send(_KNX_BYTE, group, value, allow_broadcast=allow_broadcast)

    async def send_float(
        self,
        group: str | GroupAddress,
        value: float | int | Decimal,
        *,
        allow_broadcast: bool = False,
    ) -> KnxResult:
        """Send a DPT 9 (2-byte float) telegram: ``value`` within -671088.64..670760.96."""
        return await self.send(_KNX_FLOAT, group, value, allow_broadcast=allow_broadcast)
