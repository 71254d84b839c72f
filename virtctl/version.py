"""`virtctl version [--client]`: the client's version and the server's (GET
`/apis/subresources.kubevirt.io/v1/version`), printed as upstream prints them (Go's `%#v` of `version.Info`)."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from virt_client.errors import ApiError, TransportError

from .calls import VERSION_PATH, Call
from .command import add_command
from .errors import CommandError
from .session import Session, describe

FIELDS = (("GitVersion", "gitVersion"), ("GitCommit", "gitCommit"), ("GitTreeState", "gitTreeState"),
          ("BuildDate", "buildDate"), ("GoVersion", "goVersion"), ("Compiler", "compiler"), ("Platform", "platform"))
DISTRIBUTION = "kubevirt-py"


def client_info() -> dict[str, str]:
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    return {"gitVersion": f"v{version}", "gitCommit": "", "gitTreeState": "", "buildDate": "",
            "goVersion": f"python{platform.python_version()}", "compiler": sys.implementation.name,
            "platform": f"{platform.system().lower()}/{platform.machine()}"}


def format_info(info: Mapping[str, Any]) -> str:
    """`version.Info{GitVersion:"v1.0.0", GitCommit:"...", ...}`."""
    inner = ", ".join(f'{go}:"{info.get(key) or ""}"' for go, key in FIELDS)
    return f"version.Info{{{inner}}}"


async def run(args: argparse.Namespace, session: Session) -> None:
    print(f"Client Version: {format_info(client_info())}")
    if args.client:
        return
    try:
        server = await session.send(Call("GET", VERSION_PATH))
    except (ApiError, TransportError) as e:
        raise CommandError(f"Could not get server version: {describe(e)}") from e
    print(f"Server Version: {format_info(server or {})}")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "version", summary="Print the client and server version information.", run=run,
                    example="  virtctl version\n  virtctl version --client")
    p.add_argument("--client", action="store_true", help="client version only (no server required)")
