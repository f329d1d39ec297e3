"""Run every benchmark, one process each, and print a summary table.

`python -m bench.run_all [--only NAME ...]`; exits non-zero when
any benchmark misses its target or fails to run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench import common

BENCHES = (
    "render",
    "batch_campaign",
    "single_messages",
    "dlr_ingestion",
    "dlr_ingestion_postgres",
    "scale_out",
    "csv_audience",
    "admin_pages",
    "failover",
    "failover_batch",
)
# Benchmarks run again with other arguments: module, then its arguments.
VARIANTS = {
    "dlr_ingestion_postgres": ("dlr_ingestion", "--database", "postgres"),
    "failover_batch": ("failover", "--batch"),
}
TIME_LIMIT = 600  # seconds for one benchmark


def run(name: str) -> tuple[dict | None, float]:
    """Stream one benchmark's output; return its RESULT and how long it took."""
    module, *arguments = VARIANTS.get(name, (name,))
    command = [sys.executable, "-m", f"bench.bench_{module}", *arguments]
    started = time.perf_counter()
    result = None
    process = subprocess.Popen(  # noqa: S603
        command, cwd=common.ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith("RESULT "):
                result = json.loads(line.removeprefix("RESULT "))
        process.wait(timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return result, time.perf_counter() - started


def table(rows: list[tuple[str, dict | None, float]]) -> str:
    lines = [
        f"{'benchmark':<16} {'smsbridge':>16} {'floor':>16} {'ratio':>7} "
        f"{'target':>13}  verdict  {'took':>6}"
    ]
    for name, result, took in rows:
        if result is None:
            lines.append(
                f"{name:<16} {'did not finish':>16}{'':>48}FAILED  {took:5.0f}s"
            )
            continue
        unit = (
            result["unit"].replace("messages/s", "msg/s").replace("requests/s", "req/s")
        )
        lines.append(
            f"{name:<16} {common.figure(result['ours']):>10} {unit:<5} "
            f"{common.figure(result['floor']):>10} {unit:<5} {result['ratio']:>6.2f}x "
            f"{result['target']:>13}  {'met' if result['met'] else 'MISSED':<7}  "
            f"{took:5.0f}s"
        )
        for other, ratio in result.get("others", {}).items():
            lines.append(f"{'':<16} {ratio:.2f}x the {other} (information)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHES, default=BENCHES)
    options = parser.parse_args(argv)
    rows = [(name, *run(name)) for name in options.only]
    print(f"\nmachine: {common.machine()}")
    print(table(rows))
    return 0 if all(result and result["met"] for _, result, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
