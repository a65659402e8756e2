"""A stand-in for Thinknx servers, speaking the Integration Kit API over HTTP.

Serves any number of sites in relay form (``/{KEY}/api/V1/...``) and some of them in local
form (``/api/V1/...`` with Basic, Digest or query credentials) on their own ports, with rate
limits, injected faults and exact counters. See ``docs/simulator.md``.
"""

from .app import create_app
from .counters import Counters
from .faults import Faults
from .house import House, HouseChange
from .personality import Personality
from .process import SimulatorProcess
from .project import KINDS, Device, Project, ProjectError, SceneStep, Site
from .responses import ConnectionDropped
from .runner import SimulatorThread
from .simulator import Simulator, SimulatorConfig

__all__ = [
    "KINDS",
    "ConnectionDropped",
    "Counters",
    "Device",
    "Faults",
    "House",
    "HouseChange",
    "Personality",
    "Project",
    "ProjectError",
    "SceneStep",
    "Simulator",
    "SimulatorConfig",
    "SimulatorProcess",
    "SimulatorThread",
    "Site",
    "create_app",
]
