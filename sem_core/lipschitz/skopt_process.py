"""skopt's ``gp_minimize`` in a helper process, for the attack service (``sem_core.batching``).

Run as a script (``python skopt_process.py``: it imports neither torch nor sem_core, so it starts in about a
second), at the lowest CPU priority. It reads one JSON request per line on stdin, {"bounds": [[lo, hi], ...],
"kwargs": {...}}, runs ``gp_minimize`` on it and asks for every objective value on stdout ({"call": z}, answered by
{"value": v} on stdin); then writes {"done": func_vals}, or {"error": text}. JSON carries doubles exactly (shortest
repr round trip), so the search equals the in-process one value for value.

``GpProcess`` is the parent's side: ``minimise(objective, bounds, **kwargs) -> func_vals``, the process killed on
``close()`` (a cancelled job leaves nothing running).
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import warnings
from typing import Any, Callable


def main() -> None:
    """The helper process: serve gp_minimize requests on stdin until it closes (see the module docstring)."""
    try:
        os.nice(19)   # the worker and the other sessions' jobs first; this one takes what is left
    except (AttributeError, OSError):
        pass
    warnings.simplefilter("ignore")   # skopt warns when it re-evaluates a point; the value is kept either way
    from skopt import gp_minimize

    read, write = sys.stdin.readline, sys.stdout

    def send(msg: dict) -> None:
        write.write(json.dumps(msg) + "\n")
        write.flush()

    for line in iter(read, ""):
        try:
            req = json.loads(line)

            def f(z):
                send({"call": [float(v) for v in z]})
                return json.loads(read())["value"]

            res = gp_minimize(f, [tuple(b) for b in req["bounds"]], **req["kwargs"])
            send({"done": [float(v) for v in res.func_vals]})
        except Exception as exc:  # noqa: BLE001 - the parent gets one line
            send({"error": f"{type(exc).__name__}: {exc}"[:500]})


class GpProcess:
    """The helper process, started on construction; a context manager that kills it on exit."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.replies: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, name="sem-skopt-reader", daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.replies.put(json.loads(line))
            except ValueError:
                self.replies.put({"error": f"unreadable reply {line[:100]!r}"})

    def _send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def minimise(self, objective: Callable[[list[float]], float], bounds: list[tuple[float, float]],
                 **kwargs: Any) -> list[float]:
        """``gp_minimize(objective, bounds, **kwargs).func_vals``, with ``objective`` called on this thread."""
        from ..batching import answer_calls

        self._send({"bounds": [list(b) for b in bounds], "kwargs": kwargs})
        return answer_calls(self.replies, self._send, objective, lambda: self.proc.poll() is None)

    def close(self) -> None:
        """Kill the process (at once: a cancelled search must not go on computing)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self) -> "GpProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    main()
