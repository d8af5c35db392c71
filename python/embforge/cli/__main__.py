"""`python -m embforge.cli ...` (as `python -m embforge ...`)."""
import sys

from . import main

sys.exit(main())
