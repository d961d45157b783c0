"""The base simulator: plays scheduler and kubelet for the dev cluster and serves fake Arklets."""

from .simulator import BaseSimulator

__all__ = ["BaseSimulator"]
