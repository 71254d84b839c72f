"""Container image → local entry point.

The project's images run the console scripts of this virtualenv: `kubevirt-py/virt-launcher:*` →
`virt-launcher`, and the same for virt-api, virt-controller and virt-handler. Extra entries come from
`--image-map NAME=COMMAND` (NAME may end in `*` or omit the tag; COMMAND is split like a shell
would). Images in the local image store (containerDisks) run a placeholder that holds the image, as
upstream's `container-disk` binary does. Anything else is not pullable: `ErrImagePull`.
"""

from __future__ import annotations

import fnmatch
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OWN_IMAGES = ("virt-launcher", "virt-api", "virt-controller", "virt-handler")
HOLD_COMMAND = ("sleep", "infinity")


@dataclass(frozen=True)
class ImageEntry:
    pattern: str
    entrypoint: tuple[str, ...]
    path: str = f"{VENV_BIN}:{SYSTEM_PATH}"

    def matches(self, image: str) -> bool:
        name = image.split("@", 1)[0]
        if fnmatch.fnmatchcase(name, self.pattern):
            return True
        # `name` without a tag in the map matches every tag of it.
        last = self.pattern.rsplit("/", 1)[-1]
        return ":" not in last and name.rsplit(":", 1)[0] == self.pattern


def parse_entry(item: str) -> ImageEntry:
    """`NAME=COMMAND` from the command line."""
    name, sep, command = item.partition("=")
    argv = tuple(shlex.split(command))
    if not sep or not name or not argv:
        raise ValueError(f"--image-map {item!r}: expected NAME=COMMAND, e.g. test/sleeper=sleep")
    return ImageEntry(name, argv)


@dataclass(frozen=True)
class ImageMap:
    entries: tuple[ImageEntry, ...] = field(default_factory=tuple)

    @classmethod
    def default(cls, extra: tuple[ImageEntry, ...] = ()) -> ImageMap:
        own = tuple(ImageEntry(f"kubevirt-py/{name}:*", (name,)) for name in OWN_IMAGES)
        return cls(extra + own)

    def lookup(self, image: str) -> ImageEntry | None:
        for entry in self.entries:
            if entry.matches(image):
                return entry
        return None


def hold_entry(image: str) -> ImageEntry:
    """The entry of a local-store image used as a container: it only holds the image."""
    return ImageEntry(image, HOLD_COMMAND, SYSTEM_PATH)


def container_argv(entry: ImageEntry, command: list[str], args: list[str]) -> list[str]:
    """Kubernetes' rule: `command` replaces the entry point; `args` replace the image's arguments."""
    return [*(command or entry.entrypoint), *args]
