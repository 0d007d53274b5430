"""`python -m nnarch`: the same as the `nnarch` command."""

from nnarch.cli import main

main()
