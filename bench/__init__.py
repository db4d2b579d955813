"""Benchmarks: generated feeds through the real pipeline, beside the databases' own bulk loaders."""
