"""``python -m quantconnect_emulator``: same as the ``qc-emulator`` command."""

import sys

from quantconnect_emulator.cli import main

sys.exit(main())
