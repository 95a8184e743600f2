"""`python -m seqc ...`: the same as the `seqc` command."""
import sys

from .cli import main

sys.exit(main())
