"""The functional core: pure decisions on plain data (no I/O, no clock, no Kubernetes client).

Every controller asks a function here what to do and writes the answer; tests call them directly."""
