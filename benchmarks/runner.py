"""Run every job on both sides, each in its own subprocess, and print the report.

``python -m benchmarks [--frames 100 400] [--size 2048] [--quick] [--jobs max ...]``

The first ``--frames`` value is the scan of the main table; the jobs marked as
scaling are also run on the others, and the report shows how time and peak
memory grow with the number of frames.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import generate
from .child import PREFIX
from .jobs import JOBS, Job

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 400], help="scan lengths")
    parser.add_argument("--size", type=int, default=2048, help="frame rows = columns")
    parser.add_argument("--fc-frames", type=int, default=1000, help="frames of the frame-cache")
    parser.add_argument("--dark-frames", type=int, default=100, help="frames of the dark (job 3)")
    parser.add_argument("--threshold", type=float, default=50.0, help="threshold of job 3")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    parser.add_argument("--jobs", nargs="+", choices=[j.key for j in JOBS], help="only these jobs")
    parser.add_argument("--workdir", type=Path, help="where scans are kept (reused between runs)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="measure in this process, not a subprocess each (smoke runs; figures unreliable)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny scans, one size, no goals checked"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size, args.fc_frames, args.dark_frames = [6], 64, 20, 4
    if args.workdir is None:
        args.workdir = Path(tempfile.gettempdir()) / "lazyims-benchmarks"
    return args


def run_child(spec: dict, repeat: int, in_process: bool = False) -> dict:
    """Best (fastest) of ``repeat`` runs of one measurement, each in a fresh interpreter."""
    if in_process:
        from .child import measure

        try:
            return measure(spec)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    best: dict | None = None
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.child", json.dumps(spec)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith(PREFIX)]
        if proc.returncode != 0 or not lines:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            return {"error": f"exit {proc.returncode}: {tail}"}
        result = json.loads(lines[-1][len(PREFIX) :])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def job_kwargs(job: Job, args: argparse.Namespace, nframes: int, side: str) -> dict:
    kwargs = dict(job.kwargs)
    if job.input == "framecache":
        path = generate.make_framecache(args.workdir, args.fc_frames, args.size, args.size)
        kwargs.update(path=str(path), index=args.fc_frames // 2)
    else:
        kwargs["path"] = str(generate.make_scan(args.workdir, nframes, args.size, args.size))
    if job.key == "pipeline":
        out = args.workdir / f"out_{side}_{nframes}.npz"
        kwargs.update(out=str(out), dark_frames=min(args.dark_frames, nframes))
        kwargs["threshold"] = args.threshold
    return kwargs


def measure_job(job: Job, args: argparse.Namespace, nframes: int) -> dict:
    row: dict = {"job": job.key, "frames": nframes}
    for side, (module, function, workers) in zip(("baseline", "lazy"), (job.baseline, job.lazy)):
        spec = {
            "module": module,
            "function": function,
            "kwargs": job_kwargs(job, args, nframes, side),
            "cluster_workers": workers,
        }
        row[side] = run_child(spec, args.repeat, args.in_process)
        out = spec["kwargs"].get("out")
        if out:
            Path(out).unlink(missing_ok=True)
    return row


def _fmt_time(result: dict) -> str:
    return f"{result['seconds']:.3f}" if "seconds" in result else "-"


def _fmt_cpu(result: dict) -> str:
    return f"{result['cpu_seconds']:.2f}" if "cpu_seconds" in result else "-"


def _fmt_mem(result: dict) -> str:
    return f"{result['peak_bytes'] / MIB:.0f}" if "peak_bytes" in result else "-"


def _ratio(a: dict, b: dict, key: str) -> float | None:
    if key in a and key in b and b[key] > 0:
        return a[key] / b[key]
    return None


def verdict(job: Job, row: dict, rows: list[dict], quick: bool) -> str:
    """Whether the job meets its goal, from the measured figures."""
    base, lazy = row["baseline"], row["lazy"]
    if "error" in base or "error" in lazy:
        return "error"
    if quick:
        return "ran (quick: goals not checked)"
    ratio = _ratio(base, lazy, "seconds")
    problems = [] if ratio >= job.min_ratio else [f"time ratio {ratio:.1f} < {job.min_ratio}"]
    if job.key == "median" and lazy["peak_bytes"] > base["peak_bytes"] / 2:
        problems.append("memory > 1/2 baseline")
    if job.key == "framecache" and lazy["seconds"] >= 0.05:
        problems.append("over 50 ms")
    if job.scales:
        growth = _growth(job.key, rows, "lazy")
        if growth and growth[1] > 1.5:
            problems.append(f"lazyims memory x{growth[1]:.1f} with frames")
    return "met" if not problems else "NOT met: " + "; ".join(problems)


def _growth(key: str, rows: list[dict], side: str) -> tuple[float, float] | None:
    """(time, memory) of the longest scan over those of the shortest, for one side."""
    runs = sorted(
        (r for r in rows if r["job"] == key and "seconds" in r[side]), key=lambda r: r["frames"]
    )
    if len(runs) < 2:
        return None
    first, last = runs[0][side], runs[-1][side]
    return last["seconds"] / first["seconds"], last["peak_bytes"] / max(first["peak_bytes"], 1)


def report(rows: list[dict], args: argparse.Namespace) -> str:
    main_frames = args.frames[0]
    lines = [
        f"lazyims benchmarks: {args.size}x{args.size} uint16, gzip 1 + shuffle; "
        f"frame-cache {args.fc_frames} frames; {os.cpu_count()} cores",
        "",
        f"{'job':44} {'frames':>6} {'base s':>8} {'lazy s':>8} {'ratio':>6} "
        f"{'base cpu':>8} {'lazy cpu':>8} {'base MiB':>8} {'lazy MiB':>8}  goal / verdict",
    ]
    for job in JOBS:
        for row in rows:
            if row["job"] != job.key:
                continue
            base, lazy = row["baseline"], row["lazy"]
            ratio = _ratio(base, lazy, "seconds")
            frames = args.fc_frames if job.input == "framecache" else row["frames"]
            text = verdict(job, row, rows, args.quick) if row["frames"] == main_frames else ""
            lines.append(
                f"{job.title:44} {frames:>6} {_fmt_time(base):>8} {_fmt_time(lazy):>8} "
                f"{(f'{ratio:.1f}x' if ratio else '-'):>6} {_fmt_cpu(base):>8} {_fmt_cpu(lazy):>8} "
                f"{_fmt_mem(base):>8} {_fmt_mem(lazy):>8}"
                + (f"  {job.goal}: {text}" if text else "")
            )
            for side in (base, lazy):
                if "error" in side:
                    lines.append(f"    error: {side['error']}")
    lines.append(
        "  (s = wall seconds, cpu = CPU seconds of the process and its workers, MiB = peak memory"
        " above the job's start; job 5: base = 1 worker, lazy = 2 workers)"
    )
    lines.append(f"  load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    scaling = [j for j in JOBS if j.scales and len(args.frames) > 1]
    if scaling:
        lines += [
            "",
            f"growth from {min(args.frames)} to {max(args.frames)} frames (time x, memory x)",
        ]
        for job in scaling:
            parts = []
            for side, label in (("baseline", "baseline"), ("lazy", "lazyims")):
                growth = _growth(job.key, rows, side)
                parts.append(
                    f"{label} " + (f"{growth[0]:.1f}x, {growth[1]:.1f}x" if growth else "-")
                )
            lines.append(f"  {job.title:44} " + "; ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    jobs = [j for j in JOBS if args.jobs is None or j.key in args.jobs]
    start = time.perf_counter()
    print(f"scans in {args.workdir} (generated once, then reused)", flush=True)
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = []
    for job in jobs:
        for nframes in args.frames if job.scales else args.frames[:1]:
            print(f"  running {job.title} on {nframes} frames ...", flush=True)
            rows.append(measure_job(job, args, nframes))
    print()
    print(report(rows, args))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    failed = any("error" in r[side] for r in rows for side in ("baseline", "lazy"))
    return 1 if failed else 0
