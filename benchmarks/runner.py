"""Run every job on both sides (HEXRD and lazyims), each in its own subprocess, and report.

``python -m benchmarks [--frames 100 400] [--size 2048] [--quick] [--jobs max ...]
[--cpu-baseline] [--no-dask]``

The first ``--frames`` value is the scan of the main table; the jobs marked as
scaling are also run on the others, and the report shows how time and peak
memory grow with the number of frames. ``--cpu-baseline`` runs every job a second
time with numpy and numba held to AVX2 (:mod:`.cpu`) and prints that table after
the native one; ``--no-dask`` leaves out the plain-dask column.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import cpu, generate, plain_dask, reference
from .child import PREFIX
from .jobs import JOBS, Job

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20
#: Real frame-caches from beamlines, beside the repository.
REAL_DATA = ROOT.parent / "shared" / "real-data"
#: Scans with more bytes of frames than this get HEXRD's row-band median
#: (``median_iter(ims, 4)``) as baseline: ``stats.median`` would load them whole.
HEXRD_MEDIAN_LIMIT = 4 * 2**30


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 400], help="scan lengths")
    parser.add_argument("--size", type=int, default=2048, help="frame rows = columns")
    parser.add_argument("--fc-frames", type=int, default=1000, help="frames of the frame-cache")
    parser.add_argument("--dark-frames", type=int, default=100, help="frames of the given dark")
    parser.add_argument("--threshold", type=float, default=25.0, help="threshold of the pipeline")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    parser.add_argument("--jobs", nargs="+", choices=[j.key for j in JOBS], help="only these jobs")
    parser.add_argument(
        "--real-data", type=Path, default=REAL_DATA, help="folder of real npz frame-caches"
    )
    parser.add_argument("--workdir", type=Path, help="where scans are kept (reused between runs)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--cpu-baseline",
        action="store_true",
        help="also run every job with numpy's dispatch held to AVX2 and numba compiling for "
        "an AVX2 CPU (haswell), and print that table after the native one",
    )
    parser.add_argument(
        "--no-dask", action="store_true", help="leave out the plain-dask column (dask.array + h5py)"
    )
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
    if args.cpu_baseline and args.in_process:
        parser.error(
            "--cpu-baseline needs fresh processes (numpy reads its CPU features at import)"
        )
    return args


def tables(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """(name, environment of the children) of every table to run."""
    runs = [("native", {})]
    if args.cpu_baseline:
        runs.append(("AVX2 baseline", cpu.avx2_environment()))
    return runs


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    env.update(extra or {})
    return env


def describe_cpu(extra_env: dict[str, str] | None, in_process: bool = False) -> str:
    """The CPU line of a table, as a child with that table's environment sees it."""
    if in_process:
        return cpu.describe()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu"],
        cwd=ROOT,
        env=_child_env(extra_env),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return f"CPU: (could not be described: {proc.stderr.strip().splitlines()[-1:]})"
    return proc.stdout.strip()


def run_child(
    spec: dict, repeat: int, in_process: bool = False, extra_env: dict[str, str] | None = None
) -> dict:
    """Best (fastest) of ``repeat`` runs of one measurement, each in a fresh interpreter
    (with ``extra_env`` added to its environment)."""
    if in_process:
        from .child import measure

        try:
            return measure(spec)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            gc.collect()  # HEXRD's series hold their HDF5 file open until collected
    env = _child_env(extra_env)
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


def real_caches(args: argparse.Namespace) -> list[Path]:
    """The real frame-caches to run on (in ``--quick``, only the shortest)."""
    folder = args.real_data
    paths = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if args.quick and paths:
        paths = [min(paths, key=_nframes_of)]
    return paths


def _nframes_of(path: Path) -> int:
    import numpy as np

    with np.load(path) as npz:
        return int(npz["nframes"])


def inputs(job: Job, args: argparse.Namespace, nframes: int) -> list[tuple[str, int, dict]]:
    """(label, frames, keyword arguments) of every row of ``job`` on scans of ``nframes``."""
    if job.input == "none":
        return [("", 0, {})]
    if job.input == "real":
        rows = []
        for path in real_caches(args):
            n = _nframes_of(path)
            picks = sorted({0, n // 3, 2 * n // 3, n - 1})
            kwargs = {"path": str(path)}
            if job.key == "real_frames":
                kwargs["indices"] = picks
            rows.append((re.split("[-_]", path.name)[0], n, kwargs))
        return rows
    if job.input.startswith("eiger"):
        from . import eiger

        return eiger.inputs(job, args, nframes)
    if job.input == "framecache":
        path = generate.make_framecache(args.workdir, args.fc_frames, args.size, args.size)
        return [("", args.fc_frames, {"path": str(path), "index": args.fc_frames // 2})]
    scan = generate.make_scan(args.workdir, nframes, args.size, args.size)
    kwargs: dict = {"path": str(scan)}
    if job.key == "pipeline":
        dark = generate.make_dark(args.workdir, scan, min(args.dark_frames, nframes))
        kwargs.update(dark=str(dark), threshold=args.threshold)
    return [("", nframes, kwargs)]


def scan_bytes(args: argparse.Namespace, nframes: int) -> int:
    """Bytes of the frames of the scan of ``nframes`` (uint16)."""
    return nframes * args.size * args.size * 2


def sides(job: Job, args: argparse.Namespace, frames: int) -> tuple[list, str]:
    """(name, Side or a reason it is skipped) of each side of ``job`` on ``frames``, and
    the row's label (what differs from the job's usual sides)."""
    baseline, peer, label = job.baseline, job.peer, ""
    big = job.input == "scan" and scan_bytes(args, frames) > HEXRD_MEDIAN_LIMIT
    if job.key == "median" and big:
        baseline = type(baseline)(baseline.module, "median_bands", kwargs=baseline.kwargs)
        label = "HEXRD: median_iter(ims, 4)"
    runs: list = [("baseline", baseline), ("lazy", job.lazy)]
    if peer is not None and not args.no_dask:
        if job.key == "median" and scan_bytes(args, frames) > plain_dask.MEDIAN_LIMIT:
            limit = plain_dask.MEDIAN_LIMIT / 2**30
            peer = f"dask median skipped: scan > {limit:.0f} GiB, its rechunk would not fit"
        runs.append(("dask", peer))
    return runs, label


def measure_job(
    job: Job, args: argparse.Namespace, nframes: int, extra_env: dict[str, str] | None = None
) -> list[dict]:
    rows = []
    for label, frames, kwargs in inputs(job, args, nframes):
        runs, note = sides(job, args, frames)
        row: dict = {"job": job.key, "frames": frames, "label": note or label}
        for name, side in runs:
            if isinstance(side, str):
                row[name] = {"skipped": side}
                continue
            spec = {
                "module": side.module,
                "function": side.function,
                "kwargs": {**kwargs, **side.kwargs},
                "cluster_workers": side.workers,
            }
            if job.key == "pipeline":
                spec["kwargs"]["out"] = str(args.workdir / f"out_{name}_{frames}.npz")
            if name == "baseline" and job.needs_hexrd and not reference.available():
                row[name] = {"skipped": "HEXRD reference absent"}
                continue
            if name == "baseline" and job.needs_hexrd and not reference.eiger_available(job):
                row[name] = {"skipped": "HEXRD's Eiger readers need dectris-compression"}
                continue
            row[name] = run_child(spec, args.repeat, args.in_process, extra_env)
            out = spec["kwargs"].get("out")
            if out:
                Path(out).unlink(missing_ok=True)
        rows.append(row)
    return rows


def _fmt_time(result: dict) -> str:
    if "skipped" in result:
        return "skipped"
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
    if "skipped" in base or "skipped" in lazy:
        return "skipped: " + (base.get("skipped") or lazy.get("skipped"))
    if "error" in base or "error" in lazy:
        return "error"
    if quick:
        return "ran (quick: goals not checked)"
    if job.informative:
        return "measured"
    problems = []
    ratio = _ratio(base, lazy, "seconds")
    if job.min_ratio and ratio < job.min_ratio:
        problems.append(f"time ratio {ratio:.1f} < {job.min_ratio}")
    peer_ratio = _ratio(row.get("dask", {}), lazy, "seconds")
    if job.min_peer_ratio and peer_ratio is not None and peer_ratio < job.min_peer_ratio:
        problems.append(f"dask ratio {peer_ratio:.1f} < {job.min_peer_ratio}")
    if job.max_memory and lazy["peak_bytes"] > job.max_memory * base["peak_bytes"]:
        problems.append(f"memory {lazy['peak_bytes'] / max(base['peak_bytes'], 1):.2f}x baseline")
    if job.max_extra is not None and lazy["seconds"] > base["seconds"] + job.max_extra:
        problems.append(f"{lazy['seconds'] - base['seconds']:+.2f} s > +{job.max_extra} s")
    if job.growth:
        growth = _growth(job.key, rows, "lazy")
        if growth:
            frames = max(args_frames(rows, job.key)) / min(args_frames(rows, job.key))
            if growth[0] > job.growth[0] * frames:
                problems.append(f"time x{growth[0]:.1f} for x{frames:.0f} frames")
            if growth[1] > job.growth[1]:
                problems.append(f"memory x{growth[1]:.2f} for x{frames:.0f} frames")
    return "met" if not problems else "NOT met: " + "; ".join(problems)


def args_frames(rows: list[dict], key: str) -> list[int]:
    return [r["frames"] for r in rows if r["job"] == key] or [1]


def _growth(key: str, rows: list[dict], side: str) -> tuple[float, float] | None:
    """(time, memory) of the longest scan over those of the shortest, for one side."""
    runs = sorted(
        (r for r in rows if r["job"] == key and "seconds" in r[side]), key=lambda r: r["frames"]
    )
    if len(runs) < 2:
        return None
    first, last = runs[0][side], runs[-1][side]
    return last["seconds"] / first["seconds"], last["peak_bytes"] / max(first["peak_bytes"], 1)


def _title(job: Job, row: dict) -> str:
    return f"{job.title} ({row['label']})" if row.get("label") else job.title


def _fmt_ratio(ratio: float | None) -> str:
    return f"{ratio:.1f}x" if ratio else "-"


def _decode_floor(rows: list[dict], frames: int) -> str | None:
    """The line printed under a median row: its CPU seconds against the decode floor."""
    median = next((r for r in rows if r["job"] == "median" and r["frames"] == frames), None)
    decode = next((r for r in rows if r["job"] == "decode" and r["frames"] == frames), None)
    if median is None or decode is None or "cpu_seconds" not in decode["lazy"]:
        return None
    floor = decode["lazy"]["cpu_seconds"]
    text = f"    decode floor ({frames} frames, 1 thread): lazyims reader {floor:.2f} cpu-s"
    if "cpu_seconds" in decode["baseline"]:
        text += f", h5py {decode['baseline']['cpu_seconds']:.2f} cpu-s"
    if "cpu_seconds" in median["lazy"] and floor > 0:
        text += f"; lazyims' median uses {median['lazy']['cpu_seconds'] / floor:.1f}x the floor"
    return text


def report(
    rows: list[dict], args: argparse.Namespace, table: str = "native", cpu_line: str = ""
) -> str:
    main_frames = args.frames[0]
    dask = not args.no_dask
    width = max(
        [52] + [len(_title(job, row)) for job in JOBS for row in rows if row["job"] == job.key]
    )
    lines = [
        f"== {table} table ==",
        cpu_line or cpu.describe(),
        f"lazyims benchmarks: {args.size}x{args.size} uint16, gzip 1 + shuffle; "
        f"frame-cache {args.fc_frames} frames; {os.cpu_count()} cores",
        "HEXRD: "
        + (
            f"its own imageseries code from {reference.REFERENCE}"
            if reference.available()
            else f"reference ABSENT ({reference.REFERENCE}): HEXRD rows skipped"
        ),
        "",
        f"{'job':{width}} {'frames':>6} {'base s':>8} {'lazy s':>8} {'ratio':>6} "
        + (f"{'dask s':>8} {'d ratio':>7} " if dask else "")
        + f"{'base cpu':>8} {'lazy cpu':>8} "
        + (f"{'dask cpu':>8} " if dask else "")
        + f"{'base MiB':>8} {'lazy MiB':>8} "
        + (f"{'dask MiB':>8} " if dask else "")
        + " goal / verdict",
    ]
    for job in JOBS:
        for row in rows:
            if row["job"] != job.key:
                continue
            base, lazy = row["baseline"], row["lazy"]
            peer = row.get("dask", {}) if job.peer is not None else None
            ratio = _ratio(base, lazy, "seconds")
            main = job.input != "scan" or row["frames"] == main_frames
            text = verdict(job, row, rows, args.quick) if main else ""
            title = _title(job, row)
            if dask:
                dask_time = _fmt_time(peer) if peer is not None else ""
                dask_ratio = _fmt_ratio(_ratio(peer, lazy, "seconds")) if peer is not None else ""
                dask_cpu = _fmt_cpu(peer) if peer is not None else ""
                dask_mem = _fmt_mem(peer) if peer is not None else ""
            lines.append(
                f"{title:{width}} {row['frames'] or '':>6} {_fmt_time(base):>8} {_fmt_time(lazy):>8} "
                f"{_fmt_ratio(ratio):>6} "
                + (f"{dask_time:>8} {dask_ratio:>7} " if dask else "")
                + f"{_fmt_cpu(base):>8} {_fmt_cpu(lazy):>8} "
                + (f"{dask_cpu:>8} " if dask else "")
                + f"{_fmt_mem(base):>8} {_fmt_mem(lazy):>8} "
                + (f"{dask_mem:>8} " if dask else "")
                + (f" {job.goal}: {text}" if text else "")
            )
            for side in (base, lazy, peer or {}):
                if "error" in side:
                    lines.append(f"    error: {side['error']}")
            if peer and "skipped" in peer:
                lines.append(f"    {peer['skipped']}")
            if job.key == "median":
                floor = _decode_floor(rows, row["frames"])
                if floor:
                    lines.append(floor)
    if not real_caches(args):
        lines.append(f"  real frame-caches: none found in {args.real_data}, rows skipped")
    lines.append(
        "  (base = HEXRD unless the job says otherwise; dask = plain dask.array over the h5py"
        " dataset, no lazyims; ratio = base / lazyims, d ratio = dask / lazyims (wall);"
        " s = wall seconds from after the imports to the result, first compute included;"
        " cpu = CPU seconds of the process and its workers; MiB = peak memory above the"
        " job's start)"
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
            for side, label in (("baseline", job.labels[0]), ("lazy", job.labels[1])):
                growth = _growth(job.key, rows, side)
                parts.append(
                    f"{label} " + (f"{growth[0]:.1f}x, {growth[1]:.1f}x" if growth else "-")
                )
            lines.append(f"  {job.title:52} " + "; ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    jobs = [j for j in JOBS if args.jobs is None or j.key in args.jobs]
    start = time.perf_counter()
    print(f"scans in {args.workdir} (generated once, then reused)", flush=True)
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if any(job.input == "scan" for job in jobs):  # the longest scan written once, then copied
        print(f"  scans of {', '.join(map(str, args.frames))} frames ...", flush=True)
        generate.make_scans(args.workdir, args.frames, args.size, args.size)
    results, reports = [], []
    for table, extra_env in tables(args):
        cpu_line = describe_cpu(extra_env, args.in_process)
        print(f"{table} table: {cpu_line}", flush=True)
        rows = []
        for job in jobs:
            for nframes in args.frames if job.scales else args.frames[:1]:
                print(f"  running {job.title} on {nframes} frames ...", flush=True)
                rows.extend(measure_job(job, args, nframes, extra_env))
        for row in rows:
            row["table"] = table
        results.extend(rows)
        reports.append(report(rows, args, table, cpu_line))
    print()
    print("\n\n".join(reports))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    failed = any(
        "error" in r.get(side, {}) for r in results for side in ("baseline", "lazy", "dask")
    )
    return 1 if failed else 0
