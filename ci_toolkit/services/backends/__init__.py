"""Where a service runs: docker, native binaries, or an external server; kind-agnostic."""
