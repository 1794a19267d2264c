import sys

from envscale.cli import main

sys.exit(main())
