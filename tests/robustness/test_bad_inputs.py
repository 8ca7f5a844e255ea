"""One corpus of bad inputs: every one gives a lazyims error naming the file and the problem.

Each case is a function that makes the bad input in a temporary folder and returns
``(call, error class, file named, words)``: ``call()`` must raise exactly a lazyims
exception of that class (not a bare KeyError/IndexError/ValueError/TypeError from
inside h5py, zipfile, numpy, yaml or zarr), whose message holds the file's name (when
there is one) and the words saying what is wrong, with no library traceback chained
to it. Errors come at open when the file's header tells, else when computing.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import dask.array as da
import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import (
    FileContentError,
    FrameIndexError,
    LazyImsError,
    MetadataError,
    MissingFileError,
    OmegaError,
    OptionError,
    ProcessingError,
)
from tests.conftest import synthetic_frames

pytestmark = pytest.mark.timeout(30)

CASES = {}


def case(func):
    CASES[func.__name__] = func
    return func


# -- small valid files, spoilt by the cases --------------------------------------------
def series(nframes=4, rows=24, cols=32, **metadata) -> lazyims.ImageSeries:
    frames = synthetic_frames(nframes=nframes, rows=rows, cols=cols)
    return lazyims.open(da.from_array(frames, chunks=(2, -1, -1))).with_metadata(**metadata)


def npz_cache(tmp: Path, name="fc.npz", **metadata) -> Path:
    path = tmp / name
    series(**metadata).to_framecache(path, 200)
    return path


def rewrite_npz(src: Path, dst: Path, replace: dict) -> Path:
    """Copy an npz member by member, with ``replace`` (name -> bytes or None to drop)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            body = replace.get(info.filename, zin.read(info))
            if body is not None:
                zout.writestr(info.filename, body)
        for name, body in replace.items():
            if name not in zin.namelist() and body is not None:
                zout.writestr(name, body)
    return dst


def npy_bytes(array: np.ndarray, allow_pickle=False) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def fch5_cache(tmp: Path, name="fc.fch5") -> Path:
    path = tmp / name
    series().to_framecache(path, 200)
    return path


def write_ge(path: Path, frames: np.ndarray) -> Path:
    header = bytearray(8192)
    rows, cols = frames.shape[1:]
    header[:10] = b"ADEPT\0\0\0\0\0"
    header[10:30] = struct.pack("<HLHLHHHH", 1, 8192, 1, 0, len(frames), rows, cols, 16)
    path.write_bytes(bytes(header) + frames.astype("<u2").tobytes())
    return path


def ge_scan(tmp: Path, shapes=((3, 8, 10), (3, 8, 10))) -> Path:
    (tmp / "GE").mkdir()
    for i, shape in enumerate(shapes):
        write_ge(tmp / "GE" / f"scan_{i}.ge2", np.ones(shape, np.uint16))
    return tmp


def yml(tmp: Path, text: str, name="scan.yml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


# -- npz frame-caches --------------------------------------------------------------------
@case
def npz_truncated(tmp):
    path = npz_cache(tmp)
    path.write_bytes(path.read_bytes()[:300])
    return lambda: lazyims.open(path), FileContentError, path, "truncated"


@case
def npz_not_a_zip(tmp):
    path = tmp / "fc.npz"
    path.write_bytes(b"this is no zip file at all" * 20)
    return lambda: lazyims.open(path), FileContentError, path, "npz"


@case
def npz_frame_member_corrupted(tmp):
    path = npz_cache(tmp)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("1_data.npy")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw = bytearray(path.read_bytes())
    for k in range(start + 4, start + 24):
        raw[k] ^= 0x5A
    path.write_bytes(bytes(raw))
    ims = lazyims.open(path)  # the directory and header are intact
    return lambda: ims.compute(), FileContentError, path, "1_data"


@case
def npz_header_member_corrupted(tmp):
    path = npz_cache(tmp)
    bad = rewrite_npz(path, tmp / "bad.npz", {"shape.npy": b"\x93NUMPY garbage"})
    return lambda: lazyims.open(bad), FileContentError, bad, "shape"


@case
def npz_header_of_wrong_type(tmp):
    path = npz_cache(tmp)
    bad = rewrite_npz(path, tmp / "bad.npz", {"nframes.npy": npy_bytes(np.array("four"))})
    return lambda: lazyims.open(bad), FileContentError, bad, "nframes"


@case
def npz_dtype_that_is_no_dtype(tmp):
    path = npz_cache(tmp)
    bad = rewrite_npz(path, tmp / "bad.npz", {"dtype.npy": npy_bytes(np.array(b"pixels"))})
    return lambda: lazyims.open(bad), FileContentError, bad, "dtype"


@case
def npz_missing_frame_member(tmp):
    path = npz_cache(tmp)
    bad = rewrite_npz(path, tmp / "bad.npz", {"3_row.npy": None})
    return lambda: lazyims.open(bad), FileContentError, bad, "3_row"


@case
def npz_object_member_needs_pickle(tmp):
    path = npz_cache(tmp)
    member = npy_bytes(np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    bad = rewrite_npz(path, tmp / "bad.npz", {"notes.npy": member})
    return lambda: lazyims.open(bad), FileContentError, bad, "notes"


@case
def npz_frame_rows_outside_the_frame(tmp):
    path = npz_cache(tmp)
    bad = rewrite_npz(path, tmp / "bad.npz", {"shape.npy": npy_bytes(np.array([2, 2]))})
    ims = lazyims.open(bad)
    return lambda: ims.compute(), FileContentError, bad, "outside"


# -- fch5 frame-caches -------------------------------------------------------------------
@case
def fch5_other_version(tmp):
    path = fch5_cache(tmp)
    with h5py.File(path, "a") as f:
        f.attrs["HEXRD_FRAMECACHE_VERSION"] = 7
    return lambda: lazyims.open(path), FileContentError, path, "version"


@case
def fch5_missing_frame_ids(tmp):
    path = fch5_cache(tmp)
    with h5py.File(path, "a") as f:
        del f["frame_ids"]
    return lambda: lazyims.open(path, format="frame-cache"), FileContentError, path, "frame_ids"


@case
def fch5_missing_data(tmp):
    path = fch5_cache(tmp)
    with h5py.File(path, "a") as f:
        del f["data"]
    return lambda: lazyims.open(path), FileContentError, path, "data"


@case
def fch5_frame_ids_past_the_data(tmp):
    path = fch5_cache(tmp)
    with h5py.File(path, "a") as f:
        f["frame_ids"][...] = np.arange(8, dtype=np.uint64) * 10**6
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "frame_ids"


@case
def fch5_truncated(tmp):
    path = fch5_cache(tmp)
    path.write_bytes(path.read_bytes()[:1000])
    return lambda: lazyims.open(path), FileContentError, path, "HDF5"


# -- hdf5 image series -------------------------------------------------------------------
@case
def hdf5_truncated(tmp):
    path = tmp / "scan.h5"
    series().write(path, "hdf5")
    path.write_bytes(path.read_bytes()[:2000])
    return lambda: lazyims.open(path), FileContentError, path, "HDF5"


@case
def hdf5_without_the_dataset(tmp):
    path = tmp / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/pictures", data=np.zeros((2, 4, 4)))
    return lambda: lazyims.open(path), FileContentError, path, "images"


@case
def hdf5_dataset_of_one_dimension(tmp):
    path = tmp / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=np.zeros(10))
    return lambda: lazyims.open(path), FileContentError, path, "1-D"


@case
def hdf5_data_chunk_corrupted(tmp):
    path = tmp / "scan.h5"
    series().write(path, "hdf5", gzip=4)
    with h5py.File(path, "r") as f:
        offset, size = f["imageseries/images"].id.get_chunk_info(1).byte_offset, 40
    raw = bytearray(path.read_bytes())
    raw[offset : offset + size] = b"\xff" * size
    path.write_bytes(bytes(raw))
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "cannot read frames"


# -- YAML: not YAML, wrong types, missing keys, missing files --------------------------
@case
def yaml_that_is_not_yaml(tmp):
    path = yml(tmp, "image-files: {directory: [unclosed\n  files: *.ge2: : :\n")
    return (
        lambda: lazyims.open(path, format="image-files"),
        FileContentError,
        path,
        "not valid YAML",
    )


@case
def yaml_that_is_a_list(tmp):
    path = yml(tmp, "- filename: raw.ge\n- shape: 4 4\n")
    return lambda: lazyims.open(path, format="raw-image"), FileContentError, path, "mapping"


@case
def yaml_that_is_binary(tmp):
    path = tmp / "scan.yml"
    path.write_bytes(b"\xff\xfe\x00\x81 not text")
    return lambda: lazyims.open(path, format="image-files"), FileContentError, path, "YAML"


@case
def image_files_yaml_files_of_wrong_type(tmp):
    ge_scan(tmp)
    path = yml(tmp, "image-files: {directory: GE, files: 12}\n")
    return lambda: lazyims.open(path), OptionError, path, "files"


@case
def image_files_yaml_empty_frames_not_a_number(tmp):
    ge_scan(tmp)
    path = yml(tmp, "image-files: {directory: GE, files: '*.ge2'}\noptions: {empty-frames: two}\n")
    return lambda: lazyims.open(path), OptionError, path, "empty-frames"


@case
def image_files_yaml_without_image_files(tmp):
    path = yml(tmp, "options: {empty-frames: 1}\nmeta: {panel: ff1}\n")
    return lambda: lazyims.open(path, format="image-files"), FileContentError, path, "image-files"


@case
def image_files_directory_missing(tmp):
    path = yml(tmp, "image-files: {directory: nowhere, files: '*.ge2'}\n")
    return lambda: lazyims.open(path), MissingFileError, "nowhere", "does not exist"


@case
def image_files_glob_matching_nothing(tmp):
    ge_scan(tmp)
    path = yml(tmp, "image-files: {directory: GE, files: 'scan_*.ge2 other_*.ge3'}\n")
    return lambda: lazyims.open(path), MissingFileError, path, "other_*.ge3"


@case
def image_files_of_different_shapes(tmp):
    ge_scan(tmp, shapes=((3, 8, 10), (3, 10, 8)))
    path = yml(tmp, "image-files: {directory: GE, files: '*.ge2'}\n")
    return lambda: lazyims.open(path), FileContentError, "scan_1.ge2", "shape"


@case
def image_files_truncated_ge(tmp):
    ge_scan(tmp)
    ge = tmp / "GE" / "scan_1.ge2"
    ge.write_bytes(ge.read_bytes()[:-7])
    path = yml(tmp, "image-files: {directory: GE, files: '*.ge2'}\n")
    return lambda: lazyims.open(path), FileContentError, ge, "truncated"


@case
def image_files_metadata_npy_missing(tmp):
    ge_scan(tmp)
    path = yml(
        tmp,
        "image-files: {directory: GE, files: '*.ge2'}\n"
        "meta: {omega: '! load-numpy-array omega.npy'}\n",
    )
    return lambda: lazyims.open(path), MissingFileError, "omega.npy", "omega"


@case
def raw_image_yaml_missing_scalar(tmp):
    (tmp / "raw.bin").write_bytes(bytes(64))
    path = yml(tmp, "filename: raw.bin\nshape: 4 4\n")
    return lambda: lazyims.open(path, format="raw-image"), FileContentError, path, "scalar"


@case
def raw_image_yaml_shape_not_numbers(tmp):
    (tmp / "raw.bin").write_bytes(bytes(64))
    path = yml(
        tmp,
        "filename: raw.bin\nshape: four by four\nskip: 0\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n",
    )
    return lambda: lazyims.open(path), OptionError, path, "shape"


@case
def raw_image_yaml_naming_a_missing_file(tmp):
    path = yml(
        tmp,
        "filename: gone.bin\nshape: 4 4\nskip: 0\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n",
    )
    return lambda: lazyims.open(path), MissingFileError, "gone.bin", "does not exist"


@case
def framecache_yml_missing_keys(tmp):
    npz_cache(tmp, "fc_cache.npz")
    path = yml(tmp, "data: {file: fc_cache.npz, dtype: uint16}\nmeta: {}\n", "fc.yml")
    return lambda: lazyims.open(path), FileContentError, path, "'nframes', 'shape'"


@case
def framecache_yml_nframes_of_wrong_type(tmp):
    npz_cache(tmp, "fc_cache.npz")
    path = yml(
        tmp,
        "data: {file: fc_cache.npz, dtype: uint16, nframes: many, shape: [24, 32]}\n",
        "fc.yml",
    )
    return lambda: lazyims.open(path), FileContentError, path, "nframes"


@case
def framecache_yml_meta_of_wrong_type(tmp):
    series().to_framecache(tmp / "fc.yml", 200)
    path = yml(
        tmp,
        "data: {file: fc_cache.npz, dtype: uint16, nframes: 4, shape: [24, 32]}\nmeta: [1, 2]\n",
        "fc.yml",
    )
    return lambda: lazyims.open(path), MetadataError, path, "metadata block"


@case
def framecache_yml_naming_a_missing_cache(tmp):
    path = yml(
        tmp,
        "data: {file: gone_cache.npz, dtype: uint16, nframes: 4, shape: [24, 32]}\n",
        "fc.yml",
    )
    return lambda: lazyims.open(path), MissingFileError, "gone_cache.npz", "no such file"


# -- zarr --------------------------------------------------------------------------------
@case
def zarr_metadata_not_json(tmp):
    path = tmp / "scan.zarr"
    series().to_zarr(path)
    (path / "zarr.json").write_text("{ this is not json")
    return lambda: lazyims.open(path), FileContentError, path, "zarr"


@case
def zarr_chunk_corrupted(tmp):
    path = tmp / "scan.zarr"
    series().to_zarr(path)
    chunk = next(p for p in sorted((path / "frames" / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(b"\x00garbage" * 3)
    ims = lazyims.open(path)
    return lambda: ims.compute(), FileContentError, path, "cannot read frames"


# -- arguments: thresholds, flips, rectangles, omega -----------------------------------
@case
def threshold_text_when_writing(tmp):
    out = tmp / "out.npz"
    return lambda: series().to_framecache(out, "20"), OptionError, out, "threshold"


@case
def threshold_nan_in_processing(tmp):
    return lambda: series().threshold(float("nan")), ProcessingError, None, "threshold"


@case
def threshold_text_in_an_operation_list(tmp):
    return lambda: series().process([("threshold", "20")]), ProcessingError, None, "threshold"


@case
def unknown_flip_code(tmp):
    return lambda: series().flip("r45"), ProcessingError, None, "'r45'"


@case
def rectangle_out_of_bounds(tmp):
    ims = series()
    return lambda: ims.rectangle(((0, 4), (10, 33))), ProcessingError, None, "10:33"


@case
def rectangle_not_a_rectangle(tmp):
    ims = series()
    return lambda: ims.rectangle([1, 2, 3]), ProcessingError, None, "rectangle"


@case
def omega_of_wrong_length_in_a_framecache(tmp):
    path = npz_cache(tmp, omega=np.zeros((4, 2)))
    omega = npy_bytes(np.linspace(0, 3, 6).reshape(3, 2))
    bad = rewrite_npz(path, tmp / "bad.npz", {"omega.npy": omega})
    ims = lazyims.open(bad)
    return lambda: ims.omega_wedges(), OmegaError, bad, "3 rows"


@case
def omega_of_wrong_length_when_slicing(tmp):
    path = tmp / "scan.h5"
    series(omega=np.zeros((4, 2))).write(path, "hdf5")
    with h5py.File(path, "a") as f:
        f["imageseries"].attrs["omega"] = np.zeros((5, 2))
    ims = lazyims.open(path)
    return lambda: ims[1:3], MetadataError, path, "omega"


@case
def omega_not_pairs(tmp):
    path = tmp / "scan.h5"
    series(omega=np.arange(4.0)).write(path, "hdf5")
    ims = lazyims.open(path)
    return lambda: ims.omegarange_to_frames(0, 2), OmegaError, path, "(nframes, 2)"


@case
def hdf5_write_metadata_that_hdf5_cannot_store(tmp):
    out = tmp / "out.h5"
    ims = series(notes={"nested": 1})
    return lambda: ims.write(out, "hdf5"), MetadataError, out, "'notes'"


@case
def hdf5_write_metadata_name_with_nul(tmp):
    out = tmp / "out.h5"
    ims = series(**{"omega\0hidden": 1})
    return lambda: ims.write(out, "hdf5"), MetadataError, out, "NUL"


@case
def zarr_write_metadata_that_json_cannot_store(tmp):
    out = tmp / "out.zarr"
    ims = series(when=object())
    return lambda: ims.to_zarr(out), MetadataError, out, "'when'"


@case
def framecache_write_metadata_needing_pickle(tmp):
    out = tmp / "out.fch5"
    ims = series(when=object())
    return lambda: ims.to_framecache(out, 200), MetadataError, out, "'when'"


@case
def hdf5_frames_per_chunk_not_positive(tmp):
    path = tmp / "scan.h5"
    series().write(path, "hdf5")
    return lambda: lazyims.open(path, frames_per_chunk=0), OptionError, path, "frames_per_chunk"


@case
def zarr_frames_per_chunk_not_a_number(tmp):
    path = tmp / "scan.zarr"
    series().to_zarr(path)
    return lambda: lazyims.open(path, frames_per_chunk="4"), OptionError, path, "frames_per_chunk"


@case
def raw_image_frames_per_chunk_not_positive(tmp):
    (tmp / "raw.bin").write_bytes(bytes(64))
    path = yml(
        tmp,
        "filename: raw.bin\nshape: 4 4\nskip: 0\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n",
    )
    return lambda: lazyims.open(path, frames_per_chunk=-1), OptionError, path, "frames_per_chunk"


@case
def raw_image_truncated(tmp):
    (tmp / "raw.bin").write_bytes(bytes(63))
    path = yml(
        tmp,
        "filename: raw.bin\nshape: 4 4\nskip: 0\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n",
    )
    return lambda: lazyims.open(path), FileContentError, "raw.bin", "whole frames"


@case
def framecache_yml_cache_that_is_no_zip(tmp):
    (tmp / "fc_cache.npz").write_bytes(b"not a zip" * 10)
    path = yml(
        tmp,
        "data: {file: fc_cache.npz, dtype: uint16, nframes: 4, shape: [24, 32]}\n",
        "fc.yml",
    )
    return lambda: lazyims.open(path), FileContentError, "fc_cache.npz", "npz"


@case
def path_that_does_not_exist(tmp):
    path = tmp / "nowhere.h5"
    return lambda: lazyims.open(path), MissingFileError, path, "no such file"


@case
def frame_index_out_of_range(tmp):
    path = tmp / "scan.h5"
    series().write(path, "hdf5")
    ims = lazyims.open(path)
    return lambda: ims[4], FrameIndexError, None, "out of range"


@case
def unknown_format_name(tmp):
    path = tmp / "scan.h5"
    series().write(path, "hdf5")
    return lambda: lazyims.open(path, format="hdf6"), lazyims.FormatError, None, "hdf6"


@case
def file_that_is_no_image_series(tmp):
    path = tmp / "notes.txt"
    path.write_text("shopping list\n")
    return lambda: lazyims.open(path), lazyims.FormatError, path, "format"


def _chain_is_hidden(err: BaseException) -> bool:
    """True when Python prints no other exception above this one."""
    return err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path):
    call, expected, file, words = CASES[name](tmp_path)
    with pytest.raises(LazyImsError) as info:
        call()
    err = info.value
    assert type(err).__module__ == "lazyims.errors", f"{type(err)} is not a lazyims error"
    assert isinstance(err, expected), f"{type(err).__name__} is not {expected.__name__}: {err}"
    message = str(err)
    if file is not None:
        name_of_file = Path(file).name if isinstance(file, Path) else file
        assert name_of_file in message, f"the file is not named: {message}"
        assert err.path is not None and name_of_file in err.path
    assert words in message, f"{words!r} is not in {message!r}"
    assert _chain_is_hidden(err), f"a library exception is chained: {err.__cause__!r}"
