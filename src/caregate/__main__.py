"""`python -m caregate` runs the command line."""

from caregate.cli.main import main

main()
