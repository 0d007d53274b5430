"""`python -m nnarch`: the same as the `nnarch` command."""

from .launch import main

main()
