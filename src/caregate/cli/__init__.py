"""The `caregate` command line."""
