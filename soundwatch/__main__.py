import sys

from soundwatch.cli import main

# guarded: processes started with "spawn" (the training's feature workers) import this
# module again, and must not run the command line a second time
if __name__ == "__main__":
    sys.exit(main())
