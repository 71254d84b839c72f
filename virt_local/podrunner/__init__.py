"""The pod runner: a kubelet for the project's images, one per virt-local node.

`runner.PodRunner` watches the Pods bound to its node and keeps one `worker.PodWorker` per Pod.
A worker resolves container images to local entry points (`imagemap`), prepares volumes as
directories (`volumes`), resolves the environment (`env`), starts each container as a process in
its own mount namespace with the volumes bind-mounted (`process`, `mountexec`), and reports status
(`status`, pure). Per-Pod state lives in `<data-dir>/pods/<pod-uid>/`: `logs/<container>.log`,
`containers/<container>/` (pid file, start error, state), `volumes/`.
"""
