"""Control groups of Pods and containers: every process of a container, however it was started, ends
with it.

A container runtime puts each container in a cgroup below its Pod's; whatever the container starts
(the launcher's private libvirtd, which starts QEMU in a session of its own) stays in that cgroup, and
the runtime kills the whole cgroup when the container ends. The pod runner does the same:
`<base>/pod<uid>/<container>`, where `<base>` is `virt-local-<hash of the data dir>` below the
cgroup `virt-local up` itself runs in, in each hierarchy used:

- **membership** (cgroup v2, the `unified` mount of a hybrid machine, or the whole tree on a pure v2
  machine): which processes belong to the container; `cgroup.kill` kills them all at once, new forks
  included, and `cgroup.events` says when none is left. Without cgroup v2 a v1 hierarchy (`pids`,
  `freezer`, `memory`) tracks membership and the processes listed are killed until none is left.
- **memory** (the v1 `memory` controller, when mounted): the container's and the Pod's memory limits
  (`memory.limit_in_bytes`), and `memory.oom_control`'s `oom_kill` count, which makes a container
  that the kernel killed for its limit `OOMKilled`.

A process joins its container's cgroups itself, before anything of the container runs (`mountexec`,
`warmstart`), so nothing it forks can escape. The paths of a Pod's groups are recorded in its directory
(`cgroup.json`), so a later `virt-local up`, started in another cgroup, still finds them. Only this
module touches the cgroup file system; `discover` and `parse_*` are pure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("virt_local.podrunner")

#: v1 hierarchies that can track membership when there is no cgroup v2, in order of preference
V1_MEMBERSHIP = ("pids", "freezer", "memory")
MEMBERSHIP = "membership"
MEMORY = "memory"
KILL_ROUNDS = 50


@dataclass(frozen=True)
class Hierarchy:
    """One mounted hierarchy and the process's own cgroup in it."""

    mount: Path
    own: str  # the cgroup's path relative to the mount's root, "" for the root

    @property
    def own_dir(self) -> Path:
        return self.mount / self.own if self.own else self.mount


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """`/proc/<pid>/cgroup` → hierarchy key (a v1 controller, `name=…`, or "" for v2) → path."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for key in controllers.split(",") if controllers else [""]:
            out[key] = path
    return out


def parse_mountinfo(text: str) -> dict[str, tuple[Path, str]]:
    """`/proc/self/mountinfo` → hierarchy key (as in `parse_proc_cgroup`) → (mount point, mount root)."""
    out: dict[str, tuple[Path, str]] = {}
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields, tail = pre.split(), post.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mount_point, fstype, options = fields[3], fields[4], tail[0], tail[2]
        if fstype == "cgroup2":
            out.setdefault("", (Path(mount_point), root))
        elif fstype == "cgroup":
            for opt in options.split(","):
                if opt not in ("rw", "ro") and "=" not in opt or opt.startswith("name="):
                    out.setdefault(opt, (Path(mount_point), root))
    return out


def discover(proc_cgroup: str, mountinfo: str) -> dict[str, Hierarchy]:
    """The hierarchies the Pod cgroups go in: `membership` and, when there is one, `memory` (v1)."""
    own = parse_proc_cgroup(proc_cgroup)
    mounts = parse_mountinfo(mountinfo)

    def hierarchy(key: str) -> Hierarchy | None:
        if key not in own or key not in mounts:
            return None
        mount, root = mounts[key]
        path = own[key]
        if root != "/" and not (path == root or path.startswith(root.rstrip("/") + "/")):
            return None  # our cgroup is outside what this mount shows
        rel = path[len(root):] if root != "/" else path
        return Hierarchy(mount, rel.strip("/"))

    out: dict[str, Hierarchy] = {}
    member = hierarchy("")
    for key in V1_MEMBERSHIP:
        if member is not None:
            break
        member = hierarchy(key)
    if member is not None:
        out[MEMBERSHIP] = member
    memory = hierarchy("memory")
    if memory is not None:
        out[MEMORY] = memory
    return out


def base_name(data_dir: Path) -> str:
    """The per-data-dir cgroup name, so two `virt-local up` on one machine never touch each other's Pods."""
    return "virt-local-" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]


def pod_name(uid: str) -> str:
    return f"pod{uid}"


@dataclass(frozen=True)
class Cgroup:
    """One group, as a directory in each hierarchy used (role → directory); no directories: no cgroups."""

    dirs: Mapping[str, Path] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return MEMBERSHIP in self.dirs

    def child(self, name: str) -> Cgroup:
        return Cgroup({role: d / name for role, d in self.dirs.items()})

    def to_json(self) -> dict[str, str]:
        return {role: str(d) for role, d in self.dirs.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Cgroup:
        return cls({str(role): Path(d) for role, d in data.items()})

    def procs_files(self) -> list[str]:
        """The `cgroup.procs` files a process writes itself into to join this group."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def create(self, memory_limit: int | None = None) -> None:
        for role, d in self.dirs.items():
            d.mkdir(parents=True, exist_ok=True)
            if role == MEMORY and memory_limit is not None:
                (d / "memory.limit_in_bytes").write_text(str(memory_limit))

    def exists(self) -> bool:
        d = self.dirs.get(MEMBERSHIP)
        return d is not None and d.is_dir()

    def pids(self) -> set[int]:
        """Every process in the group and its children."""
        out: set[int] = set()
        d = self.dirs.get(MEMBERSHIP)
        if d is None:
            return out
        for sub in _walk(d):
            with contextlib.suppress(OSError):
                out.update(int(p) for p in (sub / "cgroup.procs").read_text().split())
        return out

    def populated(self) -> bool:
        d = self.dirs.get(MEMBERSHIP)
        if d is None:
            return False
        try:
            events = (d / "cgroup.events").read_text()
        except FileNotFoundError:
            return bool(self.pids()) if d.is_dir() else False
        except OSError:
            return bool(self.pids())
        return "populated 1" in events

    def kill(self) -> None:
        """SIGKILL every process in the group (and its children); returns once they are signalled."""
        d = self.dirs.get(MEMBERSHIP)
        if d is None or not d.is_dir():
            return
        try:
            (d / "cgroup.kill").write_text("1")
            return
        except FileNotFoundError:
            pass  # cgroup v1, or v2 before Linux 5.14
        except OSError as e:
            log.warning("cgroup %s: cgroup.kill failed (%s); killing its processes one by one", d, e)
        for _ in range(KILL_ROUNDS):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this group for its memory limit."""
        d = self.dirs.get(MEMORY)
        if d is None:
            return 0
        try:
            text = (d / "memory.oom_control").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Remove the group's directories (children first); a group with processes left stays."""
        for d in self.dirs.values():
            for sub in reversed(list(_walk(d))):
                with contextlib.suppress(OSError):
                    sub.rmdir()


def _walk(d: Path) -> Iterator[Path]:
    """`d` and its sub-groups, parents first."""
    if not d.is_dir():
        return
    yield d
    with contextlib.suppress(OSError):
        for sub in sorted(p for p in d.iterdir() if p.is_dir()):
            yield from _walk(sub)


@dataclass(frozen=True)
class CgroupRoot:
    """The `virt-local-<hash>` group of one data dir, in each hierarchy used."""

    base: Cgroup

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> CgroupRoot:
        try:
            found = discover(Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text())
        except OSError:
            found = {}
        name = base_name(data_dir)
        dirs = {role: h.own_dir / name for role, h in found.items() if os.access(h.own_dir, os.W_OK)}
        if MEMBERSHIP not in dirs:
            log.warning("no writable cgroup hierarchy: a container's processes are tracked by process group only, "
                        "and Pod memory limits are not enforced")
            return cls(Cgroup())
        return cls(Cgroup(dirs))

    def pod(self, uid: str) -> Cgroup:
        return self.base.child(pod_name(uid))

    def pod_uids(self) -> set[str]:
        """Uids of the Pod groups that exist below the base (in the membership hierarchy)."""
        d = self.base.dirs.get(MEMBERSHIP)
        if d is None or not d.is_dir():
            return set()
        return {p.name.removeprefix("pod") for p in d.iterdir() if p.is_dir() and p.name.startswith("pod")}


def save(cgroup: Cgroup, file: Path) -> None:
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(cgroup.to_json()))
    tmp.replace(file)


def load(file: Path) -> Cgroup | None:
    try:
        return Cgroup.from_json(json.loads(file.read_text()))
    except (OSError, ValueError, AttributeError):
        return None

