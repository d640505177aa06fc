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


def add_uploaded_model(files) -> str:
    """The model of two uploaded files, its card (``.json``) and weights (``.safetensors``), checked and added to
    the uploaded models (``sem_core.models.hub.accept_upload``: weights only, hash checked, size-limited); returns
    the name it is listed under. A ``CheckpointError`` says what is wrong."""
    from sem_core.errors import CheckpointError
    from sem_core.models.hub import accept_upload

    by_suffix = {Path(f.name).suffix.lower(): f for f in files or []}
    if set(by_suffix) != {".json", ".safetensors"} or len(files) != 2:
        raise CheckpointError("upload exactly two files: the card (.json) and its weights (.safetensors)")
    return accept_upload(by_suffix[".json"].getvalue(), by_suffix[".safetensors"].getvalue())
