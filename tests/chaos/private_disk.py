"""A small disk of its own for one process tree: a tmpfs mounted in a private mount namespace.

`PrivateDisk.create(size)` starts a holder process in a new mount namespace (`unshare --mount
--propagation private`) with a tmpfs of `size` mounted on a directory; `run(argv)` starts a process
inside that namespace (`nsenter`); `path(p)` is where the test process reaches `p` of that namespace
(`/proc/HOLDER/root/p`). `fill()` takes every free byte with a ballast file and `free()` removes it.
`close()` kills the holder: the namespace and its tmpfs disappear with their last process, so
nothing stays mounted whatever the test did.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.wait import wait_for


@dataclass
class PrivateDisk:
    holder: subprocess.Popen[bytes]
    mount: Path  # inside the namespace

    @classmethod
    def create(cls, size: str) -> PrivateDisk:
        mount = Path(tempfile.mkdtemp(prefix="private-disk-"))
        holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o "size=$1,mode=0755" tmpfs "$0" && touch "$0/.mounted" && exec sleep infinity',
             str(mount), size])
        disk = cls(holder, mount)
        try:
            wait_for(lambda: holder.poll() is not None or disk.path(mount / ".mounted").exists(), timeout=10, message="the private tmpfs to be mounted")
        except BaseException:
            disk.close()
            raise
        if holder.poll() is not None:
            raise RuntimeError(f"could not mount a tmpfs in a private mount namespace (exit {holder.returncode})")
        return disk

    def path(self, inside: Path) -> Path:
        """`inside` (a path in the namespace) as the test process reaches it."""
        return Path(f"/proc/{self.holder.pid}/root") / inside.relative_to("/")

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["nsenter", "-t", str(self.holder.pid), "-m", "--", *argv], **kwargs)

    @property
    def _ballast(self) -> Path:
        return self.path(self.mount / "ballast")

    def fill(self) -> None:
        """Take every free byte of the disk."""
        with open(self._ballast, "ab", buffering=0) as f:
            for chunk in (1 << 20, 4096, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        f.write(block)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        assert os.statvfs(self.path(self.mount)).f_bavail == 0

    def free(self) -> None:
        self._ballast.unlink()

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()
        os.rmdir(self.mount)
