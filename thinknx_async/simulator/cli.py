"""Command line: ``python -m thinknx_async.simulator [options]``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from .faults import Faults
from .house import House
from .inventory_file import check_writable, inventory_toml, write_inventory
from .personality import Personality
from .project import Project
from .runner import SimulatorThread
from .simulator import Simulator, SimulatorConfig


def _latency(text: str) -> tuple[float, float | None]:
    """``0.05`` (fixed) or ``0.01-0.2`` (uniform)."""
    low, sep, high = text.partition("-")
    try:
        return float(low), float(high) if sep else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SECONDS or MIN-MAX, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the simulator's options to ``parser`` (lets another CLI offer it as a subcommand)."""
    add = parser.add_argument
    add("--sites", type=int, default=3, help="sites to generate (default 3)")
    add("--seed", type=int, default=1, help="generation seed (default 1)")
    add("--devices-per-kind", type=int, default=2, help="generated devices per kind (default 2)")
    add("--project", metavar="FILE", help="load the project from a JSON or TOML file instead")
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=0, help="relay port (default 0: a free port)")
    add("--local-ports", type=int, default=1, metavar="K", help="sites with a local port")
    add("--tls", action="store_true", help="serve HTTPS with a generated CA")
    add("--cert-dir", metavar="DIR", help="where to write the CA PEM (default: a temp dir)")
    add("--rate", type=float, default=None, help="requests/s per site (default unlimited)")
    add("--burst", type=int, default=10, help="token bucket size per site (default 10)")
    add("--relay-rate", type=float, default=None, help="requests/s for the whole relay")
    add("--relay-burst", type=int, default=None, help="bucket size of the relay limiter")
    add("--retry-after", choices=["seconds", "date", "none"], default="seconds")
    add("--feedback-delay", type=float, default=0.0, metavar="S", help="wait before fb replies")
    add("--house", type=float, default=None, metavar="S",
        help="house mode: a light switches or a temperature drifts every S per site")  # fmt: skip
    add("--house-seed", type=int, default=0, metavar="N", help="seed of house mode (default 0)")
    add("--travel-time", type=float, default=0.0, metavar="S", help="blind travel 0..100 %%")
    add("--italian", action="store_true", help="serverStatus uptimes in Italian")
    add("--latency", type=_latency, default=None, metavar="S|MIN-MAX", help="added latency")
    add("--spike-rate", type=float, default=0.0, help="probability of a latency spike")
    add("--spike-seconds", type=float, default=0.0, help="length of a latency spike")
    add("--error-rate-before", type=float, default=0.0, help="P(500, command not executed)")
    add("--error-rate-after", type=float, default=0.0, help="P(500, command executed)")
    add("--drop-rate", type=float, default=0.0, help="P(dropped connection after execution)")
    add("--drop-rate-before", type=float, default=0.0, help="P(dropped, not executed)")
    add("--slow-rate", type=float, default=0.0, help="P(reply body trickled)")
    add("--slow-seconds", type=float, default=1.0, help="how long a trickled body takes")
    add("--gateway-rate", type=float, default=0.0, help="P(a proxy's HTML error page)")
    add("--gateway-status", type=int, choices=[502, 503, 504], default=502)
    add("--numbers-as-strings", action="store_true", help='numbers in replies as "text"')
    add("--auth-failure-status", type=int, choices=[401, 403], default=403)
    add("--tls-handshake-delay", type=float, default=0.0, metavar="S", help="hold TLS handshakes")
    add("--connection-close", action="store_true", help="Connection: close on every reply")
    add("--http10", action="store_true", help="HTTP/1.0 replies")
    add("--storm-seconds", type=float, default=0.0, help="answer 429 to all for this long")
    add("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    add("--fault-sites", nargs="*", metavar="KEY", help="limit faults to these site keys")
    add("--manifest", metavar="PATH", help="write the manifest JSON here once listening")
    add("--write-inventory", metavar="FILE",
        help="write an inventory of the served sites, with aliases, once listening")  # fmt: skip
    add("--duration", type=float, default=0.0, metavar="S", help="stop after S (0: until ^C)")
    add("--log-level", default="warning", help="uvicorn log level (default warning)")
    return parser


def _same(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options whose flag and field have the same name, as keyword arguments."""
    return {name: getattr(args, name) for name in names}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m thinknx_async.simulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m thinknx_async.simulator",
        description="Serve simulated Thinknx servers (Integration Kit API) on 127.0.0.1.",
    )
    return add_arguments(parser)


def simulator_from_args(args: argparse.Namespace) -> Simulator:
    """Build the simulator the parsed options describe."""
    if args.project:
        project = Project.load(args.project)
    else:
        project = Project.generate(args.sites, args.seed, args.devices_per_kind)
    latency, latency_max = args.latency or (0.0, None)
    faults = Faults(
        latency=latency,
        latency_max=latency_max,
        error_before_rate=args.error_rate_before,
        error_after_rate=args.error_rate_after,
        drop_before_rate=args.drop_rate_before,
        drop_after_rate=args.drop_rate,
        sites=tuple(args.fault_sites) if args.fault_sites else None,
        seed=args.fault_seed,
        **_same(args, "spike_rate", "spike_seconds", "slow_rate", "slow_seconds",
                "gateway_rate", "gateway_status", "storm_seconds"),
    )  # fmt: skip
    personality = Personality(
        **_same(args, "numbers_as_strings", "auth_failure_status", "tls_handshake_delay",
                "connection_close", "http10")
    )  # fmt: skip
    config = SimulatorConfig(
        faults=faults,
        uptime_language="it" if args.italian else "en",
        blind_travel_time=args.travel_time,
        house=None if args.house is None else House(interval=args.house, seed=args.house_seed),
        personality=personality,
        **_same(args, "rate", "burst", "relay_rate", "relay_burst", "feedback_delay",
                "local_ports", "tls", "retry_after"),
    )  # fmt: skip
    return Simulator(project, config)


def run(args: argparse.Namespace) -> int:
    """Serve until the duration ends, SIGINT or SIGTERM. Returns the exit status."""
    try:
        sim = simulator_from_args(args)
        if args.write_inventory:
            check_writable(args.write_inventory)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    local_ports = [args.port + 1 + i for i in range(len(sim.local_sites))] if args.port else None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SimulatorThread(
            sim, args.host, args.port, local_ports, cert_dir=args.cert_dir, log_level=args.log_level
        ) as server:
            print(f"relay: {server.relay_url}/{{KEY}}/api/V1/  (control: {server.relay_url}/_sim/)")
            for name, url in server.local_urls.items():
                print(f"local {name}: {url}/api/V1/")
            if server.ca_file:
                print(f"CA certificate: {server.ca_file}")
            if args.manifest:
                print(f"manifest: {server.write_manifest(args.manifest)}")
            if args.write_inventory:
                text = inventory_toml(sim.project, server.relay_url, server.local_urls,
                                      server.ca_file)  # fmt: skip
                print(f"inventory: {write_inventory(args.write_inventory, text)}")
            sys.stdout.flush()
            deadline = time.monotonic() + args.duration if args.duration > 0 else None
            while not stop.is_set():
                left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if left <= 0:
                    break
                stop.wait(left)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m thinknx_async.simulator``."""
    return run(build_parser().parse_args(argv))
