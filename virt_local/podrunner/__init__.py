"""The pod runner: a kubelet for the project's images, one per virt-local node.

`runner.PodRunner` watches the Pods bound to its node and keeps one `worker.PodWorker` per Pod.
A worker resolves container images to local entry points (`imagemap`), prepares volumes as
directories (`volumes`), resolves the environment (`env`), starts each container as a process in
its own mount namespace with the volumes bind-mounted (`process`, `mountexec`) and in its own cgroup
below the Pod's (`cgroups`, `containment`: whatever a container starts ends with it; memory limits),
waits until no other Pod's processes hold its PersistentVolumeClaims (`volume_users`), stops
containers within their grace periods (`termination`), reports status (`status`, pure) and Warning
events (`pod_events`). Per-Pod state lives in `<data-dir>/pods/<pod-uid>/`: `logs/<container>.log`,
`containers/<container>/` (pid file, start error, state), `volumes/`, `cgroup.json` (the Pod's cgroups).
"""
