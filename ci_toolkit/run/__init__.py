"""Running the lanes: the output-dir layout, files exchanged with pytest, processes, the pool."""
