"""The table of controllers: it agrees with the simulator's own, its rules hold at their
bounds, declarations are checked, and the docs' endpoint tables say what it says."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import respx

from thinknx_async import Inventory, InventoryError, ProtocolError, ValidationError
from thinknx_async.controllers import (
    BUILTIN,
    DEVICE_KINDS,
    READY_MADE,
    Controller,
    builtin,
    by_kind,
    declare,
)
from thinknx_async.knx import PERCENT, SWITCH, Rule, choice
from thinknx_async.simulator.controllers import DEVICE_CONTROLLERS, KNX_CONTROLLERS

from ._support import GUID, command_reply, make_site, quiet_session, responder


def mock(reply: dict[str, Any]) -> respx.MockRouter:
    router = respx.mock(assert_all_mocked=True, assert_all_called=False)
    router.route().mock(side_effect=responder(reply))
    return router


DOCS = Path(__file__).resolve().parents[2] / "docs"
DEVICE_BUILTIN = [c for c in BUILTIN if c.kind in DEVICE_KINDS]


def bounds(rule: Rule[Any]) -> tuple[int | None, int | None, bool]:
    return rule.low, rule.high, rule.decimal


# The library's table against the simulator's (the oracle) -----------------------------------


def test_both_tables_name_the_same_device_controllers() -> None:
    assert {c.name for c in DEVICE_BUILTIN} == set(DEVICE_CONTROLLERS)


@pytest.mark.parametrize("controller", DEVICE_BUILTIN, ids=lambda c: c.name)
def test_same_parameter_rule_feedback_and_kind(controller: Controller[Any]) -> None:
    oracle = DEVICE_CONTROLLERS[controller.name]
    assert controller.param == oracle.param
    assert controller.read == oracle.read
    assert controller.feedback == oracle.feedback
    assert controller.kind in oracle.kinds
    if not controller.read:
        low, high, decimal = bounds(controller.rule)
        assert decimal == oracle.decimal
        if not decimal:
            assert (low, high) == (oracle.low, oracle.high)


def test_same_knx_controllers_and_rules() -> None:
    knx = {c.name: c for c in BUILTIN if c.kind == "knx"}
    assert set(knx) == set(KNX_CONTROLLERS)
    for name, (low, high, decimal) in KNX_CONTROLLERS.items():
        assert knx[name].param == "value"
        rule = knx[name].rule
        assert rule.decimal == decimal
        if not decimal:
            assert (rule.low, rule.high) == (low, high)


# Rules at their bounds ------------------------------------------------------------------------

INTEGER_RULES = sorted(
    {c.rule.name: c.rule for c in (*BUILTIN, *READY_MADE.values()) if not c.rule.decimal}.items()
)


@pytest.mark.parametrize(("name", "rule"), INTEGER_RULES)
def test_integer_rules_take_their_bounds_and_refuse_beyond(name: str, rule: Rule[Any]) -> None:
    assert rule.low is not None and rule.high is not None
    assert rule.encode(rule.low, "v") == str(rule.low)
    assert rule.encode(rule.high, "v") == str(rule.high)
    assert rule.decode(rule.high) is not None
    for beyond in (rule.low - 1, rule.high + 1, 1.5, "1", None):
        with pytest.raises(ValidationError):
            rule.encode(beyond, "v")
    assert rule.decode(rule.high + 1) is None


def test_a_choice_takes_only_its_values() -> None:
    modes = choice(0, 1, 3)
    assert [modes.encode(v, "mode") for v in (0, 1, 3)] == ["0", "1", "3"]
    with pytest.raises(ValidationError, match="mode must be one of 0, 1, 3, got 2"):
        modes.encode(2, "mode")
    assert modes.decode(3.0) == 3 and modes.decode(2) is None
    assert modes.parse("3") == 3
    with pytest.raises(ValidationError):
        modes.parse("2")


# The retry rule comes from the entry ---------------------------------------------------------


def test_only_commands_that_add_up_are_never_resent() -> None:
    never = {c.name for c in BUILTIN if not c.endpoint.idempotent}
    assert never == {
        "scenelaunch",
        "trigger",
        "system/sendKNXbit",
        "system/sendKNXbyte",
        "system/sendKNXfloat2bytes",
    }
    assert all(c.endpoint.controller == c.name for c in BUILTIN)


# Declarations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"name": "bad name"},
        {"name": "a/b/c"},
        {"kind": "toaster"},
        {"param": "guid"},
        {"param": "fb"},
        {"param": "auth"},
        {"param": "1x"},
        {"verb": "Has Space"},
    ],
)
def test_a_declaration_that_could_not_be_sent_is_refused(options: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"name": "modality", "kind": "thermostat", "rule": SWITCH}
    fields.update(options)
    with pytest.raises(ValidationError):
        declare(**fields)


def test_ready_made_declarations_say_they_are_not_in_the_spec() -> None:
    assert {c.kind for c in READY_MADE.values()} == {"thermostat", "hvac", "analog"}
    assert not any(c.documented for c in READY_MADE.values())
    assert [c.name for c in BUILTIN if not c.documented] == ["chronotable"]
    renamed = READY_MADE["hvac_fanspeed"].renamed("ventola", "val")
    assert (renamed.name, renamed.param, renamed.rule) == ("ventola", "val", PERCENT)


@pytest.mark.anyio
async def test_a_declared_controller_is_checked_and_sent_as_declared() -> None:
    mode = declare("modality", "thermostat", choice(0, 1, 2), param="val")
    speed = declare("fanspeed", "hvac", PERCENT, feedback=True)
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with mock(command_reply("modality", status=2)) as router:
            thermostat = site.thermostat(GUID)
            await thermostat.command(mode, 2)
            assert router.calls.last.request.url.query.decode() == f"guid={GUID}&val=2"
            refusals = [
                thermostat.command(mode, 5),  # outside the rule
                thermostat.command(mode, 1, feedback=True),  # takes no fb
                site.hvac(GUID).command(mode, 1),  # another kind's controller
                thermostat.read(mode),  # a command, not a read
                site.light(GUID).command(speed, 50),
            ]
            for refused in refusals:
                with pytest.raises(ValidationError):
                    await refused
            assert router.calls.call_count == 1


@pytest.mark.anyio
async def test_a_declared_read_is_typed_by_its_rule() -> None:
    mode = declare("modalitystatus", "thermostat", choice(0, 1, 2), read=True)
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with mock(command_reply("modalitystatus", status="2")):
            assert await site.thermostat(GUID).read(mode) == 2
        with (
            mock(command_reply("modalitystatus", status=7)),
            pytest.raises(ProtocolError, match="status 7 is not one of 0, 1, 2"),
        ):
            await site.thermostat(GUID).read(mode)


@pytest.mark.anyio
async def test_site_device_makes_the_proxy_of_a_kind() -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        assert [type(site.device(kind, GUID)).kind for kind in DEVICE_KINDS] == list(DEVICE_KINDS)
        assert site.device("analog", GUID) == site.analog(GUID)
        with pytest.raises(ValidationError, match="device kind must be one of"):
            site.device("toaster", GUID)


@pytest.mark.anyio
async def test_knx_send_takes_only_knx_controllers() -> None:
    async with quiet_session() as session:
        with mock({"namespace": "system/sendKNXbyte", "group": "1/0/1", "value": 7}) as router:
            knx = make_site(session, "cloud").knx
            await knx.send(builtin("system/sendKNXbyte"), "1/0/1", 7)
            assert router.calls.last.request.url.query.decode() == "group=1/0/1&value=7"
            with pytest.raises(ValidationError, match="is not a KNX controller"):
                await knx.send(builtin("power"), "1/0/1", 1)
            assert router.calls.call_count == 1


# The inventory's [controllers] ----------------------------------------------------------------

SITE = '[sites.a]\nmode = "cloud"\nkey = "k"\n'


def test_an_inventory_declares_controllers() -> None:
    inventory = Inventory.loads(
        '[controllers.mode]\nname = "modality"\nkind = "thermostat"\nrule = [0, 1, 2]\n'
        '[controllers.fan]\nname = "fanspeed"\nkind = "hvac"\nrule = "percent"\nparam = "val"\n'
        + SITE
    )
    mode, fan = inventory.controller("mode"), inventory.controller("fan")
    assert (mode.name, mode.kind, mode.param, mode.rule.text) == (
        "modality", "thermostat", "cmd", "one of 0, 1, 2"
    )  # fmt: skip
    assert (fan.name, fan.param, fan.rule) == ("fanspeed", "val", PERCENT)
    assert inventory.select("a").controllers == inventory.controllers
    with pytest.raises(InventoryError, match="no controller 'nope'"):
        inventory.controller("nope")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "thermostat"', "field 'controllers.m.rule': missing"),
        ('rule = "percent"', "field 'controllers.m.kind': missing"),
        ('kind = "toaster"\nrule = "percent"', "field 'controllers.m.kind': expected one of"),
        ('kind = "hvac"\nrule = "fast"', "field 'controllers.m.rule': expected one of switch"),
        ('kind = "hvac"\nrule = "percent"\nparam = "fb"', "field 'controllers.m': parameter"),
        ('kind = "hvac"\nrule = "percent"\ncolour = 1', "field 'controllers.m.colour'"),
        ('kind = "hvac"\nrule = "percent"\nread = "no"', "field 'controllers.m.read'"),
    ],
)
def test_a_wrong_controller_table_is_named(table: str, message: str) -> None:
    with pytest.raises(InventoryError, match=re.escape(message)):
        Inventory.loads(f"[controllers.m]\n{table}\n{SITE}")


# The docs' endpoint tables --------------------------------------------------------------------


def _rows(page: str) -> list[list[str]]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| `")
    ]


@pytest.mark.parametrize("controller", BUILTIN, ids=lambda c: c.name)
def test_the_docs_tables_say_what_the_table_says(controller: Controller[Any]) -> None:
    page = "knx.md" if controller.kind == "knx" else "devices.md"
    rows = [row for row in _rows(page) if row[0].strip("`") not in READY_MADE]
    cells = [row for row in rows if re.match(rf"`{controller.name}[?`]", row[1])]
    assert cells, f"no row of docs/{page} sends {controller.name}"
    for row in cells:
        if controller.param is not None:
            assert f"&{controller.param}=" in row[1]
        else:
            assert "=" not in row[1].partition("?")[2].replace("guid=G", "")
        if page == "devices.md":
            assert row[3] == ("yes" if controller.idempotent else "**no**")


def test_the_command_page_lists_every_device_verb() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    shown = {
        (kind, verb)
        for kind, verbs in re.findall(r"^\| `thinknx (\w+) ([\w\\|-]+) ", text, re.M)
        for verb in verbs.split("\\|")
    }
    table = {(kind, verb) for kind in DEVICE_KINDS for verb in by_kind(kind)}
    assert table <= shown, f"docs/cli.md lacks {sorted(table - shown)}"


def test_the_ready_made_table_lists_every_declaration() -> None:
    text = (DOCS / "devices.md").read_text(encoding="utf-8")
    for key, controller in READY_MADE.items():
        assert f"`{key}`" in text and f"`{controller.name}`" in text


@pytest.mark.anyio
async def test_the_built_in_chronotable_sends_a_switch() -> None:
    async with quiet_session() as session:
        with mock(command_reply("chronotable")) as router:
            await make_site(session, "cloud").thermostat(GUID).set_chronotable(True)
            assert router.calls.last.request.url.query.decode() == f"guid={GUID}&cmd=1"


def test_decimal_rules_keep_their_exact_value() -> None:
    setpoint = READY_MADE["hvac_setpoint"]
    assert setpoint.encode(Decimal("20.50")) == "cmd=20.5"
    assert READY_MADE["analog_value"].encode(0.1 + 0.2) == "cmd=0.30000000000000004"
