"""The pod runner's Warning events on Pods, with the kubelet's reasons and messages (pure).

- `Failed`: an image that cannot be pulled (`Failed to pull image "…": …`, then `Error: ErrImagePull`),
  a container whose configuration cannot be built (`Error: configmap "x" not found`) or whose process
  cannot start (`Error: failed to start the container process: …`);
- `BackOff`: a container waiting to be restarted (`Back-off restarting failed container c in pod
  p_ns(uid)`);
- `FailedMount`: a volume that cannot be prepared (`MountVolume.SetUp failed for volume "v" : …`).

The recorder (`virt_client.events`) aggregates repeats into one Event with a count, as client-go's does.
"""

from __future__ import annotations

from enum import StrEnum


class EventReason(StrEnum):
    FAILED = "Failed"
    BACK_OFF = "BackOff"
    FAILED_MOUNT = "FailedMount"


def failed_pull(message: str) -> str:
    """`message` is the pull error, as the container's waiting message has it."""
    return message[:1].upper() + message[1:]


def error(reason_or_message: str) -> str:
    return f"Error: {reason_or_message}"


def back_off(container: str, pod: str, namespace: str, uid: str) -> str:
    return f"Back-off restarting failed container {container} in pod {pod}_{namespace}({uid})"


def failed_mount(volume: str, message: str) -> str:
    return f'MountVolume.SetUp failed for volume "{volume}" : {message}'
