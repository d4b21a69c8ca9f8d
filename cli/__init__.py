"""The ``session-analyzer`` command line."""
