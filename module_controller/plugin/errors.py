"""The plugin's errors, in a module of their own so the command line starts without the client."""

from __future__ import annotations


class PluginError(Exception):
    """Exit code 1 with this one-line message (prefixed ``error: ``)."""


class NotFound(PluginError):
    """The ModuleDeployment asked for does not exist (any more)."""


class Conflict(Exception):
    """The object changed between read and write (resourceVersion); read again and retry."""
