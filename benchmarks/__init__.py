"""graphgrad's benchmarks, and their baseline: the seed's hand-written NumPy layers (`benchmarks.seed_layers`)."""
