"""Files ci-toolkit writes for the user: atomically, and only what it owns."""
