import sys

from photomapd.cli import main

# Guarded: the model worker process (multiprocessing "spawn") re-imports the main module.
if __name__ == "__main__":
    sys.exit(main())
