"""``python -m sem_core``: the command line, built from the registries and the declared settings."""
