"""`python -m fmlite ...`: the command line of `fmlite.tools.cli` (also installed as the `fmlite` console script)."""
import sys

from .tools.cli import build_parser, main

__all__ = ["main", "build_parser"]

if __name__ == "__main__":
    sys.exit(main())
