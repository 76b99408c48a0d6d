"""Shared kit for vendor sandboxes: document store, fault injection, admin API, loopback server."""

from connectors.emulator.app import ExactJSONResponse, Sandbox, build_sandbox, is_malformed, read_json
from connectors.emulator.faults import FaultConfig, RateWindow
from connectors.emulator.server import SandboxServer, free_port
from connectors.emulator.store import SandboxStore

__all__ = [
    "ExactJSONResponse",
    "FaultConfig",
    "RateWindow",
    "Sandbox",
    "SandboxServer",
    "SandboxStore",
    "build_sandbox",
    "free_port",
    "is_malformed",
    "read_json",
]
