"""The Eiger frame decoder (imagecodecs; DECTRIS' own when installed) on awkward blobs:
bitshuffle/LZ4, bitshuffle/zstd and LZ4 alone.

Every blob is made by HDF5's own bitshuffle/LZ4 filters (hdf5plugin), or written by hand
and decoded by those filters, so the expected bytes never come from the decoder tested.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import threading

import h5py
import hdf5plugin
import numpy as np
import pytest

from lazyims.errors import FileContentError
from lazyims.formats import _eiger_codecs

FILTERS = {
    "bslz4": hdf5plugin.Bitshuffle,
    "bszstd": lambda **options: hdf5plugin.Bitshuffle(cname="zstd", **options),
    "lz4": hdf5plugin.LZ4,
}


def encode(frame: np.ndarray, compression: str, **options) -> bytes:
    """The frame as one chunk compressed by HDF5's filter (what Eiger files hold)."""
    with h5py.File(io.BytesIO(), "w") as f:
        dset = f.create_dataset(
            "x", data=frame, chunks=frame.shape, **FILTERS[compression](**options)
        )
        return bytes(dset.id.read_direct_chunk((0,) * frame.ndim)[1])


def decode_with_hdf5(blob: bytes, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``blob`` decoded by HDF5's bitshuffle filter (written as a raw chunk, read back)."""
    with h5py.File(io.BytesIO(), "w") as f:
        dset = f.create_dataset(
            "x", shape=shape, dtype=dtype, chunks=shape, **hdf5plugin.Bitshuffle()
        )
        dset.id.write_direct_chunk((0,) * len(shape), blob)
        return dset[()]


@pytest.fixture(params=["imagecodecs", "dectris"])
def decoder(request, monkeypatch):
    """Each decoder in turn (DECTRIS' is skipped where it is not installed)."""
    if request.param == "imagecodecs":
        monkeypatch.setattr(_eiger_codecs, "_dectris_decompress", None)
    elif _eiger_codecs._dectris_decompress is None:
        pytest.skip("dectris-compression is not installed")
    return request.param


def decode(blob: bytes, compression: str, frame_like: np.ndarray) -> np.ndarray:
    return _eiger_codecs.decode_dense(
        blob,
        compression,
        frame_like.dtype,
        frame_like.shape,
        frame_like.dtype.itemsize,
        "/x.h5",
        "frame 0",
    )


@pytest.mark.parametrize("compression", ["bslz4", "bszstd", "lz4"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.uint64])
@pytest.mark.parametrize(
    "shape",
    # element counts that are and are not a multiple of 8 (bitshuffle leaves the last
    # count % 8 elements unshuffled), one block and many
    [(1, 1), (3, 5), (16, 20), (311, 327), (8, 1024)],
)
def test_frames_decode_to_what_hdf5_encoded(decoder, compression, dtype, shape):
    rng = np.random.default_rng(sum(shape))
    frame = rng.poisson(3, shape).astype(dtype)
    frame.flat[rng.integers(0, frame.size, 3)] = 200
    decoded = decode(encode(frame, compression), compression, frame)
    np.testing.assert_array_equal(decoded, frame)
    assert decoded.dtype == frame.dtype and not decoded.flags.writeable


@pytest.mark.parametrize("compression", ["bslz4", "bszstd"])
def test_small_blocks_of_a_big_frame(decoder, compression):
    frame = np.random.default_rng(0).poisson(50, (64, 99)).astype(np.uint32)
    blob = encode(frame, compression, nelems=64)  # 99 blocks, the last one short
    np.testing.assert_array_equal(decode(blob, compression, frame), frame)


def test_a_block_whose_lz4_data_is_as_long_as_the_block(decoder):
    # The HDF5-LZ4 framing reads such a block as stored uncompressed; bitshuffle never
    # stores one so. An LZ4 block of 16 bytes that decodes to 16 bytes: one literal, a
    # match of 4 at offset 1, then 11 literals.
    literals = bytes(range(1, 12))
    block = bytes([0x10, 0xAB, 0x01, 0x00, 0xB0]) + literals
    blob = struct.pack(">QI", 16, 16) + struct.pack(">I", len(block)) + block
    expected = decode_with_hdf5(blob, (8,), np.uint16)
    frame_like = np.zeros((1, 8), np.uint16)
    np.testing.assert_array_equal(decode(blob, "bslz4", frame_like)[0], expected)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "short header", "declares another size", "zero block size", "garbage"],
)
def test_damaged_blobs_are_errors_naming_the_file(decoder, damage):
    frame = np.random.default_rng(1).poisson(3, (40, 40)).astype(np.uint16)
    blob = encode(frame, "bslz4")
    if damage == "truncated":
        blob = blob[: len(blob) // 2]
    elif damage == "short header":
        blob = blob[:8]
    elif damage == "declares another size":
        blob = struct.pack(">Q", 10**12) + blob[8:]
    elif damage == "zero block size":
        blob = blob[:8] + struct.pack(">I", 0) + blob[12:]
    else:
        blob = blob[:12] + bytes(range(256)) * 4
    with pytest.raises(FileContentError, match="frame 0") as info:
        decode(blob, "bslz4", frame)
    assert "/x.h5" in str(info.value)


@pytest.mark.parametrize("compression", ["lz4", "bslz4"])
def test_blocks_of_zeros_are_an_error_not_a_short_frame(decoder, compression):
    # Every block's length 0: the framing decoder fills nothing and says so.
    frame = np.random.default_rng(4).poisson(3, (64, 64)).astype(np.uint16)
    blob = encode(frame, compression)
    blob = blob[:12] + bytes(len(blob) - 12)
    with pytest.raises(FileContentError, match="frame 0"):
        decode(blob, compression, frame)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
def test_decoding_starts_no_threads_of_its_own():
    # Only dask's threads decode in parallel: the decoder must not run a pool (OpenMP...)
    # of its own, or a one-thread run would use every core.
    frame = np.random.default_rng(2).poisson(3, (1000, 1000)).astype(np.uint16)
    blobs = {name: encode(frame, name) for name in FILTERS}
    before = len(os.listdir("/proc/self/task"))
    for name, blob in blobs.items():
        for _ in range(3):
            np.testing.assert_array_equal(decode(blob, name, frame), frame)
    assert len(os.listdir("/proc/self/task")) == before


def test_threads_decode_at_the_same_time_with_their_own_scratch(monkeypatch):
    monkeypatch.setattr(_eiger_codecs, "_dectris_decompress", None)
    rng = np.random.default_rng(3)
    frames = [rng.poisson(k + 1, (300, 400)).astype(np.uint16) for k in range(4)]
    blobs = [encode(f, "bslz4") for f in frames]
    errors = []

    def work(k):
        try:
            for _ in range(5):
                np.testing.assert_array_equal(decode(blobs[k], "bslz4", frames[k]), frames[k])
        except AssertionError as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
