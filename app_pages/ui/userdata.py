"""Where the app writes what users make: a per-user data folder, never the repository.

``$SEM_RESULTS_DIR`` (experiment runs) and ``$SEM_USER_DIR`` override; otherwise
``$XDG_DATA_HOME/sem_explorer`` (default ``~/.local/share/sem_explorer``), as freedesktop's base
directory specification asks. The repository's ``results/`` holds the shipped runs only.

Example:
    run_in_folder("faithfulness", results_dir(), 20)       # into results_dir() / "faithfulness-n20"
"""
from __future__ import annotations

import os
from pathlib import Path

SHIPPED_RESULTS = Path(__file__).resolve().parents[2] / "results"  # app_pages/ui/userdata.py → the repository


def user_data_dir() -> Path:
    """The per-user folder for everything the app writes (not created here)."""
    if os.environ.get("SEM_USER_DIR"):
        return Path(os.environ["SEM_USER_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "sem_explorer"


def results_dir() -> Path:
    """Experiment runs launched from the app: ``$SEM_RESULTS_DIR`` or ``user_data_dir()/results``."""
    env = os.environ.get("SEM_RESULTS_DIR")
    return Path(env).expanduser() if env else user_data_dir() / "results"
