"""dask's private task API is used in one module, guarded, and the public fallbacks give the
same results (the fallbacks are forced here, so CI runs them on every dask)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims import _dask_graph
from tests.conftest import synthetic_frames

PACKAGE = Path(lazyims.__file__).parent


@pytest.fixture(params=[True, False], ids=["private-api", "public-fallback"])
def private_api(request, monkeypatch):
    if not request.param:
        monkeypatch.setattr(_dask_graph, "USE_PRIVATE_API", False)
        assert _dask_graph.task_spec() is None
    else:
        assert _dask_graph.task_spec() is not None, "this dask should have dask._task_spec"
    return request.param


def scan(tmp_path, nframes=8, rows=24, cols=20):
    data = synthetic_frames(nframes, rows, cols)
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=data, chunks=(1, rows, cols))
    return path, data


def test_banded_median_of_processed_series(tmp_path, private_api):
    path, data = scan(tmp_path)
    ims = lazyims.open(path)
    dark = np.median(data[:4], axis=0).astype(np.float32)
    processed = ims.dark(ims.median(nframes=4)).flip("v")
    expected = np.median(np.maximum(data, dark)[:, :, ::-1] - dark[:, ::-1], axis=0)
    # a budget of a few rows: several bands, each after the first copied and gated
    budget = 3 * 8 * 20 * 4
    result = processed.median(band_bytes=budget)
    assert len(result.chunks[0]) > 2
    np.testing.assert_allclose(result.compute(), expected, rtol=1e-6)
    copies = [name for name in result.dask.layers if "-band" in str(name)]
    assert bool(copies) == private_api  # the fallback leaves the bands as they are


def test_streamed_write_in_frame_order(tmp_path, private_api):
    path, data = scan(tmp_path, nframes=12)
    ims = lazyims.open(path, frames_per_chunk=2)
    out = tmp_path / "out.h5"
    ims.dark(ims.median(nframes=4)).write(out, "hdf5")
    dark = np.median(data[:4], axis=0).astype(np.float32)
    np.testing.assert_allclose(lazyims.open(out).compute(), np.maximum(data, dark) - dark)


def test_private_api_imported_in_one_module_only_inside_functions():
    users = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if node.value.startswith("dask._") else []
            if any(n.startswith("dask._") for n in names):
                users.append(path.relative_to(PACKAGE).as_posix())
    assert set(users) == {"_dask_graph.py"}
    top = ast.parse((PACKAGE / "_dask_graph.py").read_text()).body
    imports = [n for n in top if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any(
        (getattr(n, "module", None) or "").startswith("dask._")
        or any(a.name.startswith("dask._") for a in n.names)
        for n in imports
    )


def test_import_lazyims_does_not_load_dask_private_modules_itself():
    code = """
import builtins, sys
asked = []
real = builtins.__import__
def spy(name, globals=None, locals=None, fromlist=(), level=0):
    caller = (globals or {}).get("__name__", "")
    if caller.startswith("lazyims") and name.startswith("dask._"):
        asked.append((caller, name))
    return real(name, globals, locals, fromlist, level)
builtins.__import__ = spy
import importlib
real_import_module = importlib.import_module
def spy_module(name, package=None):
    if name.startswith("dask._"):
        asked.append(("import_module", name))
    return real_import_module(name, package)
importlib.import_module = spy_module
import lazyims
print(asked)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
