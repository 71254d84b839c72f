"""Fixtures of the virt-controller integration tests (defined in `ctrl_cluster`)."""

from ctrl_cluster import cluster, controller

__all__ = ["cluster", "controller"]
