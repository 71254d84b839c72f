"""Which kubeconfig, context and namespace a command uses, resolved as kubectl does.

Order: `--kubeconfig` PATH, else `$KUBECONFIG` (a `:`-separated list, merged), else `~/.kube/config`.
The context is `--context` or the file's `current-context`. The namespace is `-n/--namespace`, else
the context's `namespace`, else `default`. `ClientSettings` holds the flags as given; `resolve_path`
and `namespace_of` are pure functions over them and the parsed contexts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import CommandError

DEFAULT_NAMESPACE = "default"
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class ClientSettings:
    """The global connection flags of every command."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def resolve_path(flag: str | None, environ: Mapping[str, str]) -> str:
    """The kubeconfig path (or `:`-separated list) to load."""
    if flag:
        return os.path.expanduser(flag)
    env = environ.get("KUBECONFIG", "")
    if env.strip(os.pathsep):
        return env
    return os.path.expanduser(DEFAULT_KUBECONFIG)


def existing_paths(path_list: str) -> list[str]:
    return [p for p in (os.path.expanduser(x) for x in path_list.split(os.pathsep) if x) if os.path.exists(p)]


def namespace_of(contexts: Sequence[Mapping[str, Any]], active: Mapping[str, Any] | None,
                 context_flag: str | None, namespace_flag: str | None) -> str:
    """The namespace a command acts in (see the module docstring for the order)."""
    if namespace_flag:
        return namespace_flag
    chosen: Mapping[str, Any] | None = active
    if context_flag:
        chosen = next((c for c in contexts if c.get("name") == context_flag), None)
        if chosen is None:
            raise CommandError(f'context was not found for specified context: {context_flag}')
    ns = ((chosen or {}).get("context") or {}).get("namespace")
    return str(ns) if ns else DEFAULT_NAMESPACE
