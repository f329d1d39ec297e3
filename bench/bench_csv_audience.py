"""A campaign audience CSV of 1,000,000 rows, read and stored as the admin does.

Timed, each size in a fresh child process: the campaign form validating a file
of 100,000 and of 1,000,000 rows (phone, first_name, order; a personalised
message, so every row is also checked for length), then, in one transaction,
the campaign saved and its audience stored (campaigns.audience.store). Memory:
the child's peak resident set (ru_maxrss), and how much it grew over what the
process held before the file was opened (Django, the app, the form's country
list).

Floor: the 100,000-row time times ten, so the ratio says how far from linear
the million rows are. Target: at most 1.2x, and a peak resident set of at most
150 MB at 1,000,000 rows (the growth is printed too, for information).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import common

SIZES = (100_000, 1_000_000)
TARGET = 1.2
PEAK_BUDGET_MB = 150


@dataclass
class AudienceResult(common.Result):
    memory_met: bool = True

    @property
    def met(self) -> bool:
        return super().met and self.memory_met


def write_csv(path: Path, *, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,first_name,order\n")
        for index in range(rows):
            out.write(f"+6590{index:06d},Alex,A{index:06d}\n")


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def child(path: Path) -> dict:
    """Read and store one file as the admin's add page does; print figures."""
    common.configure()
    common.setup_django()
    from django.core.files.uploadedfile import UploadedFile
    from django.db import transaction

    from campaigns import audience
    from campaigns.forms import CampaignForm

    data = {
        "name": "bench audience",
        "kind": "one_time",
        "sender_type": "transactional",
        "message": common.MESSAGE,
        "default_country": "SG",
    }
    CampaignForm(data=data)  # the country list, built once per process
    before = resident_mb()
    with path.open("rb") as file:
        upload = UploadedFile(file, name=path.name, size=path.stat().st_size)
        started = time.perf_counter()
        form = CampaignForm(data=data, files={"audience_file": upload})
        if not form.is_valid():
            raise SystemExit(f"the form refused the file: {form.errors.as_json()}")
        read = time.perf_counter()
        with transaction.atomic():
            stored = audience.store(form.audience, campaign=form.save())
        finished = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": stored,
        "read": read - started,
        "store": finished - read,
        "seconds": finished - started,
        "peak_mb": peak,
        "before_mb": before,
        "growth_mb": peak - before,
    }


def measure(path: Path) -> dict:
    command = [sys.executable, "-m", "bench.bench_csv_audience", "--child", str(path)]
    output = subprocess.run(  # noqa: S603
        command, cwd=common.ROOT, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.splitlines()[-1])


def line(rows: int, figures: dict, size_mb: float) -> str:
    return (
        f"{rows:>9,} rows ({size_mb:.0f} MB): {figures['seconds']:.1f} s "
        f"(form {figures['read']:.1f} s, store {figures['store']:.1f} s); "
        f"peak RSS {figures['peak_mb']:.0f} MB, {figures['before_mb']:.0f} MB "
        f"before the file, grown by {figures['growth_mb']:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs=2, default=SIZES)
    options = parser.parse_args(argv)
    if options.child:
        print(json.dumps(child(options.child)))
        return 0
    small, large = options.sizes
    with tempfile.TemporaryDirectory(prefix="smsbridge-bench-csv-") as folder:
        figures, details = {}, []
        for rows in (small, large):
            path = Path(folder) / f"audience-{rows}.csv"
            write_csv(path, rows=rows)
            figures[rows] = measure(path)
            if figures[rows]["rows"] != rows:
                print(f"{figures[rows]['rows']:,} of {rows:,} rows stored; void")
                return 2
            details.append(line(rows, figures[rows], path.stat().st_size / 1e6))
    peak = figures[large]["peak_mb"]
    memory_met = peak <= PEAK_BUDGET_MB
    details.append(
        f"memory: peak RSS {peak:.0f} MB at {large:,} rows (budget "
        f"{PEAK_BUDGET_MB} MB; {figures[large]['before_mb']:.0f} MB before the "
        f"file, grown by {figures[large]['growth_mb']:.0f} MB): "
        f"{'met' if memory_met else 'MISSED'}"
    )
    return common.finish(
        AudienceResult(
            bench="csv_audience",
            title=f"read and store a {large:,}-row audience CSV through the form",
            ours=figures[large]["seconds"],
            floor=figures[small]["seconds"] * large / small,
            unit="s",
            target=TARGET,
            lower_is_better=True,
            details=[*details, f"floor: the {small:,}-row time x {large // small}"],
            memory_met=memory_met,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
