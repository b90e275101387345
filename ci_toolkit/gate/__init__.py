"""Coverage: combine the data, read it into a model, judge it against the floors (pure)."""
