"""virtctl: the command-line client of the KubeVirt subresource API.

One module per command (`start`, `stop`, `console`, ...); each turns its arguments into the request
upstream virtctl sends (a pure function, unit-tested) and performs it through `session.Session`,
the only module that talks to the API server.
"""
