"""The ``xrm`` command line."""
