"""The local Lambda execution environment: Runtime API server, environments and their lifecycle, backends, limits, logs."""
