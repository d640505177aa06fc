"""Wall seconds of every experiment at n = 4 with its defaults (issue 28, point 7: each must finish in <= 5 minutes).

    .venv/bin/python benchmarks/bench_experiment_defaults.py [NAME ...] [--n 4] [--write]
    .venv/bin/python benchmarks/bench_experiment_defaults.py --quick     # faithfulness at n = 2, never writes

Each experiment runs in a fresh folder (nothing reused), in a fresh process (no warm caches from another
experiment), on the CPU. Prints one line per experiment and a table; with ``--write`` the measurements go to
``assets/experiment_costs.json``, from which ``python -m sem_core experiment`` prints its time estimate before it
starts (``sem_core.experiments.costs``), naming the machine and date of the measurement. Run it on an idle machine:
the load average at the start and end of each run is printed beside its time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sem_core.experiments import list_experiments  # noqa: E402
from sem_core.experiments.costs import COSTS_PATH, LIMIT_S  # noqa: E402

RUN = """
import sys
from sem_core.experiments import run_experiment
run_experiment(sys.argv[1], sys.argv[2], n=int(sys.argv[3]), device="cpu")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="experiments (default: all)")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--write", action="store_true", help=f"write the table to {COSTS_PATH.relative_to(ROOT)}")
    ap.add_argument("--quick", action="store_true", help="a smoke run: faithfulness at n = 2, nothing written")
    args = ap.parse_args()
    if args.quick:
        args.names, args.n, args.write = ["faithfulness"], 2, False
    names = args.names or list_experiments()
    table = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix="bench-exp-") as tmp:
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUN, name, str(Path(tmp) / name), str(args.n)], cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            load1 = os.getloadavg()[0]
        ok = done.returncode == 0
        table[name] = {"n": args.n, "seconds": round(seconds, 1), "ok": ok, "load": [round(load0, 2), round(load1, 2)]}
        print(json.dumps({"experiment": name, **table[name],
                          **({} if ok else {"error": done.stderr.strip().splitlines()[-1][:200]})}), flush=True)
    print(f"\n| experiment | n | seconds | within {LIMIT_S} s | load average (start, end) |\n| --- | --- | --- | --- | --- |")
    for name, row in table.items():
        within = "yes" if row["ok"] and row["seconds"] <= LIMIT_S else "NO" if row["ok"] else "failed"
        print(f"| {name} | {row['n']} | {row['seconds']:.1f} | {within} | {row['load'][0]}, {row['load'][1]} |")
    if args.write:
        old = json.loads(COSTS_PATH.read_text()) if COSTS_PATH.is_file() else {"experiments": {}}
        machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
        for name, row in table.items():
            if row["ok"]:
                old["experiments"][name] = {"n": row["n"], "seconds": row["seconds"], "machine": machine,
                                            "date": date.today().isoformat(), "load": row["load"]}
        COSTS_PATH.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        print(f"wrote {COSTS_PATH}")


if __name__ == "__main__":
    main()
