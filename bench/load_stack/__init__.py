"""The service as bench/load.py serves it: cortex's settings and URLs plus one bare DRF view."""
