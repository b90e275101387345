"""Shards back together: the output dirs of `ci-toolkit local --shard K/N` runs found, checked for
completeness, and merged into one local output dir laid out as an unsharded run leaves it."""
