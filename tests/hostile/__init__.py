"""The hostile-input corpus (``corpus.CORPUS``) that ``tests/test_hostile.py`` runs through every entry point."""
