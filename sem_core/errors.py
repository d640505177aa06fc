"""User-facing errors. Every message is meant to be shown as-is (CLI, app)."""


class SemError(Exception):
    """Base class: a problem the user can act on (bad name, bad file, bad parameter)."""


class UnknownNameError(SemError, KeyError):
    """A name (model, explainer, attack, experiment) that no registry knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(SemError):
    """A checkpoint is missing, unreadable, or does not match its card."""


class DataError(SemError):
    """A data source cannot be loaded, or an uploaded image cannot be used."""


class AttackError(SemError):
    """An attack was called with parameters it cannot run with."""


class SemDeprecationWarning(DeprecationWarning):
    """An old spelling of sem_core's API that still works for one release (e.g. ``create_attack(name, model)``)."""
