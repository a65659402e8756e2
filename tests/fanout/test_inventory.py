"""The site inventory: parsing, selection, secrets from the environment, aliases, mistakes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from thinknx_async import (
    Blind,
    Inventory,
    InventoryError,
    Light,
    RateLimit,
    RetryPolicy,
    Scene,
    Session,
    ThinknxError,
)
from thinknx_async.inventory import Alias, Secret
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, create_app

GUID_A = "1IzPszHWAEuvzxtXBMkzWQ"
GUID_B = "9QzPszHWAEuvzxtXBMkzAA"
GOOD = f"""
[defaults]
mode = "relay"
url = "https://relay.example.com"
rate_limit = {{ rate = 2.0, burst = 2 }}

[aliases]
lobby_lights = "light"
night = "scene"

[sites.rome]
tags = ["hotel", "italy"]
mode = "cloud"
key = {{ env = "ROME_KEY" }}
[sites.rome.aliases]
lobby_lights = "{GUID_A}"
night = {{ guid = "{GUID_B}", kind = "scene" }}
shutter = {{ guid = "shutter-guid", kind = "blind" }}

[sites.milan]
tags = ["hotel"]
key = "MilanKey42"
max_in_flight = 3
rate_limit = false
[sites.milan.aliases]
lobby_lights = "{GUID_B}"

[sites.home]
mode = "local"
host = "192.168.1.10"
port = 5052
username = "service"
password = {{ env = "HOME_PASSWORD" }}
auth = "basic"
tags = ["house"]
"""
ENV = {"ROME_KEY": "RomeKey123", "HOME_PASSWORD": "s3cret"}


@pytest.fixture
def inventory_file(tmp_path: Path) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(GOOD)
    return path


def test_load_select_and_describe(inventory_file: Path) -> None:
    inventory = Inventory.load(inventory_file)
    assert inventory.names == ("rome", "milan", "home")
    assert len(inventory) == 3 and [e.name for e in inventory] == list(inventory.names)
    assert inventory.tags == {"hotel", "italy", "house"}
    rome, milan, home = inventory["rome"], inventory["milan"], inventory["home"]
    assert rome.mode == "cloud" and rome.key == Secret(env="ROME_KEY")
    assert rome.rate_limit == RateLimit(rate=2.0, burst=2) and rome.throttled
    assert milan.mode == "relay" and milan.url == "https://relay.example.com"
    assert not milan.throttled and milan.max_in_flight == 3
    assert home.port == 5052 and home.auth == "basic" and home.path == inventory_file
    assert rome.aliases["night"] == Alias(name="night", guid=GUID_B, kind="scene")
    assert inventory.select("rome").names == ("rome",)
    assert inventory.select("m*", "home").names == ("milan", "home")
    assert inventory.select(tags=["hotel"]).names == ("rome", "milan")
    assert inventory.select(tags="house").names == ("home",)
    assert inventory.select("home", tags=["italy"]).names == ("rome", "home")
    assert inventory.select() is inventory
    with pytest.raises(InventoryError, match=r"sites.toml: no site matches 'paris\*'"):
        inventory.select("paris*")
    with pytest.raises(InventoryError, match="no site has the tag 'spa'"):
        inventory.select(tags=["spa"])
    with pytest.raises(InventoryError, match="no site named 'paris'"):
        inventory["paris"]


def test_secrets_never_show(inventory_file: Path) -> None:
    inventory = Inventory.load(inventory_file)
    assert "MilanKey42" not in repr(inventory)
    assert repr(inventory["milan"].key) == "Secret('***')"
    assert repr(inventory["rome"].key) == "Secret(env='ROME_KEY')"


@pytest.mark.anyio
async def test_open_resolves_env_secrets_and_aliases_per_site(inventory_file: Path) -> None:
    inventory = Inventory.load(inventory_file)
    async with Session() as session:
        fleet = inventory.open(session, environ=ENV)
        rome, milan, home = fleet
        assert len(fleet) == 3 and fleet[1:] == [milan, home] and "3 sites" in repr(fleet)
        assert (rome.kind, milan.kind, home.kind) == ("cloud", "relay", "local")
        assert rome.name == "rome" and fleet.site("home") is home
        assert rome.rate_limit == RateLimit(rate=2.0, burst=2)
        assert milan.rate_limit is None
        assert home.url == "http://192.168.1.10:5052/api/V1/"
        assert "RomeKey123" not in rome.url
        assert fleet.entry(milan) is inventory["milan"]
        assert fleet.light(rome, "lobby_lights") == Light(rome, GUID_A)
        assert fleet.light(milan, "lobby_lights") == Light(milan, GUID_B)
        assert fleet.scene(rome, "night") == Scene(rome, GUID_B)
        assert fleet.device(rome, "shutter") == Blind(rome, "shutter-guid")
        assert fleet.blind(rome, GUID_A) == Blind(rome, GUID_A)  # a raw GUID is accepted
        assert fleet.guid(rome, "night") == GUID_B
        assert fleet.thermostat(home, GUID_A).guid == GUID_A
        assert fleet.hvac(home, GUID_A).guid == GUID_A
        assert fleet.button(home, GUID_A).guid == GUID_A
        with pytest.raises(InventoryError, match="site 'milan': field 'aliases': no alias 'night'"):
            fleet.scene(milan, "night")
        with pytest.raises(InventoryError, match=r"site 'home'.*no alias 'x' \(aliases: none\)"):
            fleet.light(home, "x")
        with pytest.raises(InventoryError, match="alias 'night' is a scene, not a light"):
            fleet.light(rome, "night")
        with pytest.raises(InventoryError, match="is a GUID, not an alias"):
            fleet.device(rome, GUID_A)
        with pytest.raises(InventoryError, match="not part of this fleet"):
            fleet.entry(session.cloud("OtherKey"))
        with pytest.raises(InventoryError, match="no site named 'x' in this fleet"):
            fleet.site("x")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOME_PASSWORD": "pw"}, "site 'rome': field 'key': environment variable ROME_KEY is not"),
        ({**ENV, "ROME_KEY": ""}, "site 'rome': field 'key': environment variable ROME_KEY is em"),
        ({**ENV, "ROME_KEY": "bad key!"}, "site 'rome': field 'key': the Integration Kit key"),
        ({"ROME_KEY": "k"}, "site 'home': field 'password': environment variable HOME_PASSWORD"),
    ],
)
async def test_open_names_the_missing_or_bad_secret(
    inventory_file: Path, env: dict[str, str], message: str
) -> None:
    async with Session() as session:
        with pytest.raises(InventoryError, match=message) as info:
            Inventory.load(inventory_file).open(session, environ=env)
    assert str(inventory_file) in str(info.value)
    assert isinstance(info.value, ThinknxError) and isinstance(info.value, ValueError)


@pytest.mark.anyio
async def test_open_reads_os_environ_and_drives_the_simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = Project.generate(sites=4, seed=5, devices_per_kind=1)
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    sites: dict[str, Any] = {}
    for i, site in enumerate(project.sites):
        monkeypatch.setenv(f"KEY_{i}", site.key)
        light = site.devices_by_kind()["light"][0]
        sites[f"flat-{i}"] = {"key": {"env": f"KEY_{i}"}, "aliases": {"lobby": light}}
    inventory = Inventory.from_dict(
        {
            "aliases": {"lobby": "light"},
            "defaults": {"mode": "relay", "url": "http://sim", "allow_insecure": True},
            "sites": sites,
        }
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    async with client, Session(http_client=client, retry=RetryPolicy(max_attempts=1)) as session:
        fleet = inventory.open(session)
        report = await session.gather(fleet, lambda s: fleet.light(s, "lobby").turn_on())
    assert report.ok and len(report) == 4
    for site in project.sites:
        assert sim.counters.executed(site.devices_by_kind()["light"][0], "power") == 1


BAD: list[tuple[str, str]] = [
    ("sites = 3", "field 'sites': expected a table, got an integer"),
    ("[defaults]\nmode = 'cloud'", "no [sites.NAME] table"),
    ("sites = {}", "no [sites.NAME] table"),
    ("version = 2\n[sites.a]\nmode='cloud'\nkey='k'", "field 'version': unsupported version 2"),
    ("colour = 1", "field 'colour': unknown top-level key"),
    ("[defaults]\naliases = {}", "field 'defaults.aliases': not allowed in [defaults]"),
    ("[aliases]\nx = 'lamp'", "field 'aliases.x': expected one of light, blind"),
    ("[sites.a]\nkey = 'k'", "site 'a': field 'mode': missing (local, cloud or relay)"),
    ("[sites.a]\nmode = 'lan'", "site 'a': field 'mode': expected one of local, cloud, relay"),
    ("[sites.a]\nmode = 'cloud'\nkye = 'k'", "site 'a': field 'kye': unknown field"),
    ("[sites.a]\nmode = 'cloud'\nhost = 'h'\nkey='k'", "site 'a': field 'host': does not apply"),
    ("[sites.a]\nmode = 'cloud'", "site 'a': field 'key': missing (a cloud site needs key)"),
    ("[sites.a]\nmode = 'cloud'\nkey = 'bad key'", "field 'key': an Integration Kit key is"),
    ("[sites.a]\nmode = 'cloud'\nkey = 3", "field 'key': expected a string or {env"),
    ("[sites.a]\nmode = 'cloud'\nkey = {env='X', value='y'}", "field 'key': a secret table"),
    ("[sites.a]\nmode = 'cloud'\nkey = {env='1-X'}", "field 'key.env': '1-X' is not an env"),
    ("[sites.a]\nmode = 'cloud'\nkey = ''", "field 'key': expected a non-empty string"),
    ("[sites.a]\nmode = 'relay'\nkey = 'k'", "field 'url': missing (a relay site needs url, key)"),
    ("[sites.a]\nmode = 'relay'\nkey = 'k'\nurl = 'ftp://x'", "field 'url': expected http(s)"),
    ("[sites.a]\nmode = 'relay'\nkey = 'k'\nurl = 'https://a:xx'", "field 'url': expected http(s)"),
    ("[sites.a]\nmode = 'relay'\nkey = 'k'\nurl = 'https://:80'", "field 'url': expected http(s)"),
    ("[sites.a]\nmode = 'relay'\nkey = 'k'\nurl = 'http://r'", "field 'url': plain http://"),
    ("[sites.a]\nmode='relay'\nkey='k'\nurl='http://r'\nallow_insecure=1", "'allow_insecure'"),
    ("[sites.a]\nmode = 'local'\nhost = 'h'", "field 'username': missing"),
    ("[sites.a]\nmode='local'\nhost='a/b'\nusername='u'\npassword='p'", "field 'host': 'a/b'"),
    ("[sites.a]\nmode='local'\nhost='h'\nusername='u'\npassword='p'\nport=0", "field 'port'"),
    ("[sites.a]\nmode='local'\nhost='h'\nusername='u'\npassword='p'\nauth='ntlm'", "'auth'"),
    ("[sites.a]\nmode='local'\nhost='h'\nusername='u'\npassword='p'\nauth='query'\n"
     "scheme='https'", "field 'auth': query credentials work over plain http only"),
    ("[sites.a]\nmode='cloud'\nkey='k'\ntags='x'", "field 'tags': expected an array"),
    ("[sites.a]\nmode='cloud'\nkey='k'\nmax_in_flight=0", "field 'max_in_flight'"),
    ("[sites.a]\nmode='cloud'\nkey='k'\nrate_limit=true", "field 'rate_limit': expected a table"),
    ("[sites.a]\nmode='cloud'\nkey='k'\nrate_limit={burst=2}", "'rate_limit.rate': missing"),
    ("[sites.a]\nmode='cloud'\nkey='k'\nrate_limit={rate=1,brust=2}", "'rate_limit.brust'"),
    ("[sites.a]\nmode='cloud'\nkey='k'\nrate_limit={rate=-1}", "'rate_limit': rate must be"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases=[]", "field 'aliases': expected a table"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases={x='G'}", "field 'aliases.x': no kind"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases={x='a b'}", "'aliases.x': 'a b' is not a GUID"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases={x={kind='light'}}", "'aliases.x.guid': missing"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases={x={guid='G',colour=1}}", "'aliases.x.colour'"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases={x={guid='G',kind='lamp'}}", "'aliases.x.kind'"),
    ("[aliases]\nx='light'\n[sites.a]\nmode='cloud'\nkey='k'\naliases={x={guid='G',kind='blind'}}",
     "field 'aliases.x.kind': is blind, but [aliases] declares a light"),
    ("[sites.a]\nmode='cloud'\nkey='k'\naliases={x=3}", "field 'aliases.x': expected a table"),
    ("[sites.' ']\nmode='cloud'\nkey='k'", "site ' ': a site name must not be blank"),
    ("[sites]\na = 3", "site 'a': expected a table, got an integer"),
    ("[sites.a]\nmode = 'cloud'\nmode = 'relay'", "invalid TOML: Cannot overwrite a value"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_every_mistake_has_its_precise_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        Inventory.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_error_attributes_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read the file") as info:
        Inventory.load(tmp_path / "missing.toml")
    assert info.value.path == tmp_path / "missing.toml" and info.value.site is None
    (tmp_path / "latin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(InventoryError, match="cannot read the file"):
        Inventory.load(tmp_path / "latin.toml")
    with pytest.raises(InventoryError) as info:
        Inventory.loads("[sites.a]\nmode='cloud'")
    assert (info.value.site, info.value.field, info.value.path) == ("a", "key", None)
    assert str(info.value).startswith("site 'a': field 'key': missing")
    assert str(InventoryError("plain")) == "plain"


def test_defaults_apply_only_where_they_fit() -> None:
    inventory = Inventory.loads(
        "[defaults]\nmode='local'\nusername='u'\npassword='p'\nkey='k'\nport=6000\n"
        "[sites.a]\nhost='h'\n[sites.b]\nmode='cloud'\n"
    )
    a, b = inventory
    assert a.mode == "local" and a.port == 6000 and a.password == Secret(value="p")
    assert b.mode == "cloud" and b.key == Secret(value="k") and b.username is None
