import sys

from photomapd.cli import main

sys.exit(main())
