"""`python -m ci_toolkit`: the `ci-toolkit` command, for where its script is not on PATH."""

from ci_toolkit.cli import main

main()
