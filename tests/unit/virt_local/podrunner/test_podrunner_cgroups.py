"""Finding the cgroups a Pod's groups go below (pure parsing of /proc/self/cgroup and mountinfo), and
the `Cgroup` operations on a directory tree laid out like cgroupfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from virt_local.podrunner.cgroups import (
    MEMBERSHIP,
    MEMORY,
    Cgroup,
    CgroupRoot,
    Hierarchy,
    base_name,
    discover,
    parse_mountinfo,
    parse_proc_cgroup,
)

HYBRID_CGROUP = """9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/abc
1:cpu,cpuacct:/
0::/
"""
HYBRID_MOUNTS = """31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
V2_CGROUP = "0::/user.slice/session-1.scope\n"
V2_MOUNTS = "25 22 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
V1_ONLY_MOUNTS = "\n".join(line for line in HYBRID_MOUNTS.splitlines() if "cgroup2" not in line)
CONTAINER_MOUNTS = "50 40 0:32 /process_api /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n"


def test_proc_cgroup_maps_every_controller_of_a_line() -> None:
    assert parse_proc_cgroup(HYBRID_CGROUP) == {
        "name=systemd": "/", "pids": "/", "freezer": "/", "memory": "/process_api/abc", "cpu": "/",
        "cpuacct": "/", "": "/"}


def test_mountinfo_maps_controllers_and_the_v2_tree() -> None:
    mounts = parse_mountinfo(HYBRID_MOUNTS)
    assert mounts[""] == (Path("/sys/fs/cgroup/unified"), "/")
    assert mounts["memory"] == (Path("/sys/fs/cgroup/memory"), "/")
    assert mounts["cpuacct"] == (Path("/sys/fs/cgroup/cpu,cpuacct"), "/")
    assert mounts["name=systemd"] == (Path("/sys/fs/cgroup/systemd"), "/")
    assert "tmpfs" not in mounts and "rw" not in mounts


@pytest.mark.parametrize("proc_cgroup,mountinfo,want", [
    (HYBRID_CGROUP, HYBRID_MOUNTS, {MEMBERSHIP: Hierarchy(Path("/sys/fs/cgroup/unified"), ""),
                                    MEMORY: Hierarchy(Path("/sys/fs/cgroup/memory"), "process_api/abc")}),
    (V2_CGROUP, V2_MOUNTS, {MEMBERSHIP: Hierarchy(Path("/sys/fs/cgroup"), "user.slice/session-1.scope")}),
    (HYBRID_CGROUP, V1_ONLY_MOUNTS, {MEMBERSHIP: Hierarchy(Path("/sys/fs/cgroup/pids"), ""),
                                     MEMORY: Hierarchy(Path("/sys/fs/cgroup/memory"), "process_api/abc")}),
    (HYBRID_CGROUP, CONTAINER_MOUNTS, {MEMBERSHIP: Hierarchy(Path("/sys/fs/cgroup/memory"), "abc"),
                                       MEMORY: Hierarchy(Path("/sys/fs/cgroup/memory"), "abc")}),
    (HYBRID_CGROUP, "", {}),
], ids=["hybrid", "pure-v2", "v1-only", "mount-of-a-subtree", "nothing-mounted"])
def test_discover(proc_cgroup: str, mountinfo: str, want: dict[str, Hierarchy]) -> None:
    assert discover(proc_cgroup, mountinfo) == want


def test_a_cgroup_outside_what_its_mount_shows_is_not_used() -> None:
    assert discover("4:memory:/elsewhere\n", CONTAINER_MOUNTS) == {}


def test_base_name_is_per_data_dir_and_stable(tmp_path: Path) -> None:
    assert base_name(tmp_path / "a") == base_name(tmp_path / "a")
    assert base_name(tmp_path / "a") != base_name(tmp_path / "b")
    assert base_name(tmp_path / "a").startswith("virt-local-")


def fake_group(root: Path, pids: dict[str, str], *, populated: bool | None = None) -> Cgroup:
    """Directories laid out as cgroupfs shows them (sub-group → its cgroup.procs)."""
    for sub, procs in pids.items():
        d = root / sub if sub else root
        d.mkdir(parents=True, exist_ok=True)
        (d / "cgroup.procs").write_text(procs)
    if populated is not None:
        (root / "cgroup.events").write_text(f"populated {int(populated)}\nfrozen 0\n")
    return Cgroup({MEMBERSHIP: root})


def test_pids_include_the_sub_groups(tmp_path: Path) -> None:
    cg = fake_group(tmp_path / "pod", {"": "", "compute": "10\n11\n", "compute/inner": "12\n"})
    assert cg.pids() == {10, 11, 12}


@pytest.mark.parametrize("events,procs,want", [
    (True, "", True), (False, "5\n", False), (None, "5\n", True), (None, "", False),
], ids=["v2-populated", "v2-empty-wins-over-stale-procs", "v1-with-process", "v1-empty"])
def test_populated(tmp_path: Path, events: bool | None, procs: str, want: bool) -> None:
    assert fake_group(tmp_path / "g", {"": procs}, populated=events).populated() is want


def test_a_missing_or_disabled_group_is_empty_and_kill_is_harmless(tmp_path: Path) -> None:
    missing = Cgroup({MEMBERSHIP: tmp_path / "gone"})
    assert (missing.populated(), missing.pids(), missing.exists()) == (False, set(), False)
    missing.kill()
    disabled = Cgroup()
    assert (disabled.enabled, disabled.populated(), disabled.procs_files(), disabled.oom_kills()) == (
        False, False, [], 0)


def test_create_sets_the_memory_limit_and_remove_clears_empty_groups(tmp_path: Path) -> None:
    cg = Cgroup({MEMBERSHIP: tmp_path / "unified" / "pod", MEMORY: tmp_path / "memory" / "pod"})
    cg.create(64 << 20)
    assert (tmp_path / "memory" / "pod" / "memory.limit_in_bytes").read_text() == str(64 << 20)
    child = cg.child("compute")
    assert child.procs_files() == [str(tmp_path / "unified" / "pod" / "compute" / "cgroup.procs"),
                                   str(tmp_path / "memory" / "pod" / "compute" / "cgroup.procs")]
    child.create(None)
    assert not (tmp_path / "memory" / "pod" / "compute" / "memory.limit_in_bytes").exists()
    (tmp_path / "memory" / "pod" / "memory.limit_in_bytes").unlink()  # cgroupfs has no such files to delete
    cg.remove()
    assert not (tmp_path / "unified" / "pod").exists() and not (tmp_path / "memory" / "pod").exists()


@pytest.mark.parametrize("text,want", [
    ("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", 2), ("oom_kill_disable 0\nunder_oom 0\n", 0),
], ids=["counted", "old-kernel-without-count"])
def test_oom_kills(tmp_path: Path, text: str, want: int) -> None:
    (tmp_path / "memory.oom_control").write_text(text)
    assert Cgroup({MEMBERSHIP: tmp_path, MEMORY: tmp_path}).oom_kills() == want


def test_pod_groups_round_trip_through_json_and_are_listed_by_uid(tmp_path: Path) -> None:
    root = CgroupRoot(Cgroup({MEMBERSHIP: tmp_path / "base"}))
    pod = root.pod("u-1")
    assert Cgroup.from_json(pod.to_json()) == pod
    pod.create()
    (tmp_path / "base" / "not-a-pod").mkdir()
    assert root.pod_uids() == {"u-1"}
