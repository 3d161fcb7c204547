"""``python -m ptsm_diag.cli``."""

import sys

from ptsm_diag.cli import main

sys.exit(main())
