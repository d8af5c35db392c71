"""`python -m embforge ...`: the same command line as the `embforge` script."""
import sys

from .cli import script

sys.exit(script())
