"""Helpers for tests and benchmarks: tiny random-weight pipelines of the real diffusers classes."""
