"""Timing history: what each test took, learned run after run."""
