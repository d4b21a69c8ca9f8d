"""``python -m web serve|users ...``: the web commands without the main CLI."""

import sys

from web.cli import main

sys.exit(main())
