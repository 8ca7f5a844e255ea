"""eiger-stream-v1 and eiger-stream-v2: frames and metadata equal HEXRD's own readers'.

The files are made here (see :mod:`tests.eiger_files`); HEXRD's reference code from
``../shared/hexrd-reference`` reads the same files beside lazyims.
"""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, OptionError
from tests.formats.eiger_files import eiger_frames, write_stream_v1, write_stream_v2

HEXRD_REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "hexrd-reference"
COMPRESSIONS = ["bslz4", "lz4", "csrnpz"]
SETTINGS = ["threshold_1", "threshold_2", "man_diff"]


@pytest.fixture(scope="module")
def hexrd_imageseries():
    """HEXRD's imageseries package from the reference checkout (skips when absent)."""
    if not HEXRD_REFERENCE.is_dir():
        pytest.skip(f"HEXRD's reference code is not at {HEXRD_REFERENCE}")
    pytest.importorskip("dectris.compression", reason="HEXRD's Eiger readers need it")
    if str(HEXRD_REFERENCE) not in sys.path:
        sys.path.insert(0, str(HEXRD_REFERENCE))
    from hexrd.core import imageseries

    return imageseries


def read_with_hexrd(imageseries, path: Path, fmt: str, **options):
    """HEXRD's frames, shape, dtype and metadata; its file is closed after (HDF5 refuses
    to open a file again with other locking flags while HEXRD holds it open)."""
    ims = imageseries.open(str(path), fmt, **options)
    try:
        frames = np.stack([np.asarray(ims[i]) for i in range(len(ims))])
        return frames, tuple(int(n) for n in ims.shape), ims.dtype, ims.metadata
    finally:
        ims._adapter.close()


def assert_same_metadata(ours, theirs):
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert_same_metadata(ours[key], value)
        else:
            assert np.array_equal(np.asarray(ours[key]), np.asarray(value)), key


@pytest.fixture(scope="module")
def frames():
    return eiger_frames(nframes=4), eiger_frames(nframes=4, seed=1)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_v1_equals_hexrd(tmp_path, frames, compression, hexrd_imageseries):
    path = write_stream_v1(tmp_path / "scan.h5", frames[0], compression)
    expected, shape, dtype, metadata = read_with_hexrd(hexrd_imageseries, path, "eiger-stream-v1")
    ims = lazyims.open(path)
    assert ims.format == "eiger-stream-v1"
    assert ims.shape == expected.shape == (4, *shape)
    assert ims.dtype == dtype
    ours = ims.compute()
    assert ours.dtype == expected.dtype
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(ours, frames[0])
    assert_same_metadata(ims.metadata, metadata)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("setting", SETTINGS)
def test_v2_equals_hexrd(tmp_path, frames, compression, setting, hexrd_imageseries):
    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1], compression)
    expected, shape, dtype, metadata = read_with_hexrd(
        hexrd_imageseries, path, "eiger-stream-v2", threshold_setting=setting, multiplier=0.75
    )
    ims = lazyims.open(path, threshold_setting=setting, multiplier=0.75)
    assert ims.format == "eiger-stream-v2"
    assert ims.shape == expected.shape == (4, *shape)
    assert ims.dtype == dtype
    ours = ims.compute()
    assert ours.dtype == expected.dtype == (np.float64 if setting == "man_diff" else np.uint32)
    np.testing.assert_array_equal(ours, expected)
    assert_same_metadata(ims.metadata, metadata)


def test_man_diff_is_threshold_1_minus_multiplier_times_threshold_2(tmp_path, frames):
    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1])
    t1 = lazyims.open(path).compute()
    t2 = lazyims.open(path, threshold_setting="threshold_2").compute()
    diff = lazyims.open(path, threshold_setting="man_diff", multiplier=3).compute()
    np.testing.assert_array_equal(t1, frames[0])
    np.testing.assert_array_equal(t2, frames[1])
    np.testing.assert_array_equal(diff, t1.astype(np.float64) - 3.0 * t2)
    assert diff.min() < 0  # float64: no wrap-around of the unsigned counts


def test_one_chunk_per_frame_and_opening_reads_no_blob(tmp_path, frames):
    path = write_stream_v1(tmp_path / "scan.h5", frames[0])
    with h5py.File(path, "a") as f:  # spoil every blob but frame 0's description stays
        for i in range(4):
            del f[f"data/{i}/data"]
            f[f"data/{i}/data"] = np.void(b"\0" * 10)
    ims = lazyims.open(path)
    assert ims.chunks[0] == (1, 1, 1, 1)
    with pytest.raises(FileContentError, match="frame 0"):
        ims[0].compute()


def test_csrnpz_frames_are_sparse_chunks(tmp_path, frames):
    sparse = pytest.importorskip("sparse")
    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1], "csrnpz")
    for setting in SETTINGS:
        ims = lazyims.open(path, threshold_setting=setting, multiplier=0.5)
        assert ims.is_sparse
        block = ims.to_dask(sparse=True).blocks[2].compute()
        assert isinstance(block, sparse.COO)
        assert block.nnz < block.size


def test_a_rectangle_and_a_single_frame(tmp_path, frames):
    path = write_stream_v1(tmp_path / "scan.h5", frames[0], "bslz4")
    ims = lazyims.open(path)
    np.testing.assert_array_equal(
        ims.rectangle([[3, 11], [5, 20]]).compute(), frames[0][:, 3:11, 5:20]
    )
    np.testing.assert_array_equal(np.asarray(ims[2]), frames[0][2])
    np.testing.assert_array_equal(ims.max().compute(), frames[0].max(axis=0))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_other_dtypes_and_frames_per_chunk(tmp_path, dtype):
    data = eiger_frames(nframes=5, rows=9, cols=33, dtype=dtype, seed=3)
    path = write_stream_v1(tmp_path / "scan.h5", data, "bslz4", metadata={})
    ims = lazyims.open(path, frames_per_chunk=2)
    assert ims.chunks[0] == (2, 2, 1)
    assert ims.metadata == {}
    np.testing.assert_array_equal(ims.compute(), data)


def test_uncompressed_frames(tmp_path, frames):
    # HEXRD reads these only from its in-memory dicts; a file says "none" (HEXRD refuses).
    path = write_stream_v1(tmp_path / "scan.h5", frames[0], None)
    np.testing.assert_array_equal(lazyims.open(path).compute(), frames[0])


def test_formats_are_told_apart_by_content(tmp_path, frames):
    v1 = write_stream_v1(tmp_path / "v1.h5", frames[0])
    v2 = write_stream_v2(tmp_path / "v2.h5", frames[0], frames[1])
    plain = tmp_path / "plain.h5"
    lazyims.open(frames[0]).write(plain, "hdf5")
    assert lazyims.open(v1).format == "eiger-stream-v1"
    assert lazyims.open(v2).format == "eiger-stream-v2"
    assert lazyims.open(plain).format == "hdf5"
    assert lazyims.open(v2, format="eiger-stream-v2").format == "eiger-stream-v2"


def test_bad_options(tmp_path, frames):
    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1])
    with pytest.raises(OptionError, match="threshold_setting"):
        lazyims.open(path, threshold_setting="threshold_3")
    with pytest.raises(OptionError, match="multiplier"):
        lazyims.open(path, threshold_setting="man_diff", multiplier="much")
    with pytest.raises(OptionError, match="frames_per_chunk"):
        lazyims.open(path, frames_per_chunk=0)
    with pytest.raises(OptionError, match="threshold_setting"):
        lazyims.open(path, format="eiger-stream-v1", threshold_setting="threshold_1")


def test_a_v2_file_opened_as_v1_says_so(tmp_path, frames):
    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1])
    with pytest.raises(FileContentError, match="compression_type"):
        lazyims.open(path, format="eiger-stream-v1")


def test_cli_converts_with_nested_metadata_flattened(tmp_path, frames):
    from lazyims.cli import main

    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1])
    out = tmp_path / "out.h5"
    assert main(["convert", str(path), str(out), "-O", "threshold_setting=threshold_2"]) == 0
    back = lazyims.open(out)
    np.testing.assert_array_equal(back.compute(), frames[1])
    assert back.metadata["start.detector"] == "EIGER2 test"
    assert back.metadata["output_metadata.omega_start"] == 0.0


def test_reads_on_a_local_cluster(cluster_client, tmp_path, frames):
    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1], "bslz4")
    ims = lazyims.open(path, threshold_setting="man_diff", multiplier=0.5)
    result = cluster_client.compute(ims.max()).result()
    np.testing.assert_array_equal(result, (frames[0] - 0.5 * frames[1]).max(axis=0))


def test_the_hexrd_layer_reads_like_hexrd(tmp_path, frames, hexrd_imageseries):
    import pickle

    from lazyims.hexrd import imageseries as layer

    path = write_stream_v2(tmp_path / "scan.h5", frames[0], frames[1], "bslz4")
    expected, _, _, _ = read_with_hexrd(
        hexrd_imageseries, path, "eiger-stream-v2", threshold_setting="man_diff", multiplier=2
    )
    ims = layer.open(str(path), "eiger-stream-v2")
    np.testing.assert_array_equal(ims[1], frames[0][1])
    ims.set_option("threshold_setting", "man_diff")
    ims.set_option("multiplier", 2)
    assert ims.option_values() == {"threshold_setting": "man_diff", "multiplier": 2.0}
    assert ims.dtype == np.float64
    np.testing.assert_array_equal(np.stack([ims[i] for i in range(len(ims))]), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ims))[3], expected[3])
    with pytest.raises(NotImplementedError, match="threshold_setting"):
        ims.set_option("threshold_setting", "threshold_9")
    with pytest.raises(NotImplementedError, match="possible options"):
        ims.set_option("gain", 2)
    assert ims.option_values()["threshold_setting"] == "man_diff"
    v1 = write_stream_v1(tmp_path / "v1.h5", frames[0], "csrnpz")
    np.testing.assert_array_equal(layer.open(str(v1), "eiger-stream-v1")[2], frames[0][2])


@pytest.mark.parametrize("compression", [*COMPRESSIONS, None])
def test_the_hexrd_layer_decompresses_a_frame_as_hexrd(frames, compression, hexrd_imageseries):
    from hexrd.core.imageseries.load import eiger as hexrd_eiger

    from lazyims.hexrd.load import eiger
    from tests.formats.eiger_files import blob

    frame = frames[0][2]
    d = {
        "compression_type": compression,
        "dtype": frame.dtype.str,
        "shape": frame.shape,
        "elem_size": frame.dtype.itemsize,
        "data": np.void(blob(frame, compression)),
    }
    ours, theirs = eiger.decompress_frame(d), hexrd_eiger.decompress_frame(d)
    np.testing.assert_array_equal(ours, frame)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype
    with pytest.raises(FileContentError, match="Unsupported compression type: zip"):
        eiger.decompress_frame({**d, "compression_type": "zip"})
    with pytest.raises(FileContentError, match="has no elem_size"):
        eiger.decompress_frame({k: v for k, v in d.items() if k != "elem_size"})
    if compression is not None:
        with pytest.raises(FileContentError, match="cannot|truncated|damaged"):
            eiger.decompress_frame({**d, "data": np.void(blob(frame, compression)[:-9])})
