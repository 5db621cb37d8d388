"""python -m nnpkit.cli"""

import sys

from . import main

sys.exit(main())
