"""``python -m sem_core COMMAND``: the command line (``sem_core.cli.main``)."""
import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
