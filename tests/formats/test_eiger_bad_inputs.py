"""Bad Eiger files: each gives a lazyims error naming the file and what is wrong.

The same contract as :mod:`tests.test_bad_inputs` (whose checks are reused), for the
Eiger formats: truncated or damaged blobs, a wrong ``elem_size``, an unknown
compression, a missing threshold group, missing fields.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, LazyImsError, MissingFileError
from tests.formats.eiger_files import eiger_frames, write_master, write_stream_v1, write_stream_v2
from tests.robustness.test_bad_inputs import _chain_is_hidden

pytestmark = pytest.mark.timeout(30)

CASES = {}


def case(func):
    CASES[func.__name__] = func
    return func


def v1(tmp: Path, compression="bslz4") -> Path:
    return write_stream_v1(tmp / "eiger.h5", eiger_frames(nframes=3), compression)


def v2(tmp: Path, compression="bslz4", threshold_2=True) -> Path:
    frames = eiger_frames(nframes=3)
    return write_stream_v2(tmp / "eiger.h5", frames, frames if threshold_2 else None, compression)


def replace(path: Path, name: str, value) -> None:
    with h5py.File(path, "a") as f:
        del f[name]
        f[name] = value


@case
def stream_truncated_blob(tmp):
    path = v1(tmp)
    with h5py.File(path, "a") as f:
        raw = f["data/1/data"][()].tobytes()
    replace(path, "data/1/data", np.void(raw[: len(raw) // 2]))
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "frame 1"


@case
def stream_truncated_uncompressed_blob(tmp):
    path = v1(tmp, None)
    with h5py.File(path, "a") as f:
        raw = f["data/2/data"][()].tobytes()
    replace(path, "data/2/data", np.void(raw[:-4]))
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "truncated"


@case
def stream_blob_of_zeros(tmp):
    path = v1(tmp, "lz4")
    with h5py.File(path, "a") as f:
        raw = f["data/0/data"][()].tobytes()
    replace(path, "data/0/data", np.void(raw[:12] + bytes(len(raw) - 12)))
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "frame 0"


@case
def stream_wrong_elem_size(tmp):
    path = v1(tmp)
    replace(path, "data/1/elem_size", 2)  # the frames are uint32
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "elem_size"


@case
def stream_unknown_compression(tmp):
    path = v1(tmp)
    replace(path, "data/0/compression_type", "zstd-of-the-future")
    return lambda: lazyims.open(path), FileContentError, path, "zstd-of-the-future"


@case
def stream_unknown_compression_of_a_later_frame(tmp):
    path = v2(tmp)
    replace(path, "data/2/threshold_1/compression_type", "gzip")
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "unknown compression_type"


@case
def stream_missing_threshold_group(tmp):
    path = v2(tmp, threshold_2=False)
    opening = lambda: lazyims.open(path, threshold_setting="threshold_2")  # noqa: E731
    return opening, FileContentError, path, "threshold_2"


@case
def stream_missing_threshold_group_of_a_later_frame(tmp):
    path = v2(tmp)
    with h5py.File(path, "a") as f:
        del f["data/1/threshold_2"]
    ims = lazyims.open(path, threshold_setting="man_diff")
    return lambda: ims.compute(), FileContentError, path, "threshold_2"


@case
def stream_dtype_that_is_no_dtype(tmp):
    path = v1(tmp)
    replace(path, "data/0/dtype", "pixels")
    return lambda: lazyims.open(path), FileContentError, path, "dtype"


@case
def stream_shape_of_three_numbers(tmp):
    path = v1(tmp)
    replace(path, "data/0/shape", [1, 2, 3])
    return lambda: lazyims.open(path), FileContentError, path, "shape"


@case
def stream_frame_of_another_shape(tmp):
    path = v1(tmp)
    replace(path, "data/2/shape", [4, 4])
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "frame 2"


@case
def stream_missing_frame(tmp):
    path = v1(tmp)
    with h5py.File(path, "a") as f:
        f.move("data/1", "data/7")
    return lambda: lazyims.open(path), FileContentError, path, "[1]"


@case
def stream_missing_data_group(tmp):
    path = v1(tmp)
    with h5py.File(path, "a") as f:
        del f["data"]
    opening = lambda: lazyims.open(path, format="eiger-stream-v1")  # noqa: E731
    return opening, FileContentError, path, "/data"


@case
def stream_missing_blob(tmp):
    path = v1(tmp)
    with h5py.File(path, "a") as f:
        del f["data/2/data"]
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "'data'"


@case
def stream_damaged_csrnpz(tmp):
    path = v1(tmp, "csrnpz")
    replace(path, "data/1/data", np.void(b"\0" * 8 + b"not an npz at all"))
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "csrnpz"


@case
def stream_truncated_file(tmp):
    path = v1(tmp)
    path.write_bytes(path.read_bytes()[:3000])
    opening = lambda: lazyims.open(path, format="eiger-stream-v1")  # noqa: E731
    return opening, FileContentError, path, "HDF5"


# -- DECTRIS master/data files ----------------------------------------------------------
def master(tmp: Path, **options) -> Path:
    return write_master(tmp, eiger_frames(nframes=5), frames_per_file=2, **options)


@case
def master_broken_external_link(tmp):
    path = master(tmp)
    (tmp / "scan_data_000002.h5").unlink()
    return lambda: lazyims.open(path), MissingFileError, "scan_data_000002.h5", "scan_master.h5"


@case
def master_link_to_a_missing_dataset(tmp):
    path = master(tmp)
    with h5py.File(tmp / "scan_data_000003.h5", "a") as f:
        f.move("entry/data/data", "entry/data/frames")
    return lambda: lazyims.open(path), FileContentError, "scan_data_000003.h5", "/entry/data/data"


@case
def master_data_file_truncated(tmp):
    path = master(tmp)
    data = tmp / "scan_data_000001.h5"
    data.write_bytes(data.read_bytes()[:1500])
    return lambda: lazyims.open(path), FileContentError, data, "HDF5"


@case
def master_data_file_damaged_chunk(tmp):
    path = master(tmp)
    data = tmp / "scan_data_000002.h5"
    with h5py.File(data, "r") as f:
        info = f["entry/data/data"].id.get_chunk_info(1)
    raw = bytearray(data.read_bytes())
    raw[info.byte_offset + 12 : info.byte_offset + info.size] = b"\xff" * (info.size - 12)
    data.write_bytes(bytes(raw))
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, data, "frame 1"


@case
def master_data_files_of_other_shapes(tmp):
    path = master(tmp)
    with h5py.File(tmp / "scan_data_000002.h5", "w") as f:
        f.create_dataset("entry/data/data", data=np.zeros((2, 4, 4), np.uint32))
    return lambda: lazyims.open(path), FileContentError, "scan_data_000002.h5", "4x4"


@case
def master_without_data_entries(tmp):
    path = master(tmp)
    with h5py.File(path, "a") as f:
        for name in list(f["entry/data"]):
            del f[f"entry/data/{name}"]
    return lambda: lazyims.open(path, format="eiger"), FileContentError, path, "data_000001"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_eiger_input(name, tmp_path):
    call, expected, file, words = CASES[name](tmp_path)
    with pytest.raises(LazyImsError) as info:
        call()
    err = info.value
    assert type(err).__module__ == "lazyims.errors", f"{type(err)} is not a lazyims error"
    assert isinstance(err, expected), f"{type(err).__name__} is not {expected.__name__}: {err}"
    message = str(err)
    assert Path(file).name in message, f"the file is not named: {message}"
    assert err.path is not None and Path(file).name in err.path
    assert words in message, f"{words!r} is not in {message!r}"
    assert _chain_is_hidden(err), f"a library exception is chained: {err.__cause__!r}"
