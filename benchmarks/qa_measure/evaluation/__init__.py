"""Quality measurements on real benchmarks."""
