"""Random damage to a file's bytes gives the original frames or a lazyims error, never
other frames and never a hang.

For every format lazyims writes with checksums: hdf5 (gzip and uncompressed), the
frame-cache styles npz, fch5 and yml (its cache; the YAML is text without a
checksum) and zarr (its chunks; zarr.json is JSON without one). Formats without
checksums (raw-image, GE) are left out: damage there is undetectable by design (see
the README's table).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lazyims

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*keep more than 10%:UserWarning"),
    pytest.mark.timeout(240),
]

FRAMES = np.zeros((4, 16, 20), np.uint16)
FRAMES[:, 2, 3] = [501, 502, 503, 504]
FRAMES[:, 9, 11] = 900
FRAMES[1, 5:8, 5:9] = 777
OMEGA = np.arange(8.0).reshape(4, 2)

KINDS = {
    "hdf5-gzip": ("scan.h5", lambda s, p: s.write(p, "hdf5")),
    "hdf5-plain": ("scan.h5", lambda s, p: s.write(p, "hdf5", gzip=0)),
    "npz": ("fc.npz", lambda s, p: s.to_framecache(p, 0)),
    "fch5": ("fc.fch5", lambda s, p: s.to_framecache(p, 0)),
    "yml": ("fc.yml", lambda s, p: s.to_framecache(p, 0)),
    "zarr": ("scan.zarr", lambda s, p: s.to_zarr(p)),
}


def _damaged_file(folder: Path, kind: str) -> Path:
    """The file of ``kind`` whose bytes are damaged (a chunk for zarr, the cache for yml)."""
    if kind == "yml":
        return folder / "fc_cache.npz"
    if kind == "zarr":
        return folder / "scan.zarr" / "frames" / "c" / "1" / "0" / "0"
    return folder / KINDS[kind][0]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each format written once; examples copy the bytes and damage the copy."""
    out = {}
    for kind, (name, write) in KINDS.items():
        folder = tmp_path_factory.mktemp(kind)
        write(lazyims.open(FRAMES).with_metadata(omega=OMEGA), folder / name)
        out[kind] = folder
    return out


damage = st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4
)


@pytest.mark.parametrize("kind", list(KINDS))
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(flips=damage, cut=st.one_of(st.none(), st.floats(0, 1, exclude_max=True)))
def test_damage_gives_the_original_or_a_lazyims_error(written, tmp_path_factory, kind, flips, cut):
    import shutil

    folder = tmp_path_factory.mktemp("damaged")
    copy = folder / "copy"
    shutil.copytree(written[kind], copy)
    target = _damaged_file(copy, kind)
    blob = bytearray(target.read_bytes())
    for where, xor in flips:
        blob[int(where * len(blob))] ^= xor
    if cut is not None:
        blob = blob[: int(cut * len(blob))]
    target.write_bytes(bytes(blob))
    try:
        ims = lazyims.open(copy / KINDS[kind][0])
        got = ims.compute()
        omega = ims.metadata.get("omega")
    except lazyims.LazyImsError:
        return
    np.testing.assert_array_equal(got, FRAMES)
    assert got.dtype == FRAMES.dtype
    np.testing.assert_array_equal(omega, OMEGA)
