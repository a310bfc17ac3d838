"""Predict functions and schemas the serving tests serve (imported by `datason serve` in subprocesses)."""
