"""Attack and Lipschitz CLI commands (registered by ``__main__``)."""
from __future__ import annotations

PARSERS: list = []
