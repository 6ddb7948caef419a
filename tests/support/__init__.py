"""Support code for tests that run the service for real: a daphne process, a cuttable TCP proxy."""
