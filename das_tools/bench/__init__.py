"""``das bench``: benchmarks, each beside a reference run on the same data in the same run."""
