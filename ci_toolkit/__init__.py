"""ci-toolkit: one command for a Python team's CI pipeline."""

__version__ = "0.1.0"
