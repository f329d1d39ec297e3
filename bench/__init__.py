"""Benchmarks against a loopback fake provider; see bench/README.md."""
