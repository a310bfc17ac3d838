"""Predict functions the interop tests serve with `datason serve tests.interop.apps.<module>:predict`."""
