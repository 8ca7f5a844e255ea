"""Strict inputs: a misspelled YAML key never changes the data, a size a file declares is
never trusted, and a chunk missing from a store lazyims wrote is an error.

The hostile-size cases run in one subprocess whose address space is limited to 4 GB
(``resource.RLIMIT_AS``): an attempt to allocate what a header declares fails there,
never the machine running the tests.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, LazyImsError, MetadataError
from tests.formats.eiger_files import add_goniometer, eiger_frames, write_master, write_stream_v1

ROOT = Path(__file__).resolve().parents[2]
HUGE = 10**12  # values a hostile header declares: 7.28 TiB of float64
THRESHOLD = 470  # keeps 6% of the pixels of frames()


def frames(nframes=4, rows=12, cols=16) -> np.ndarray:
    values = np.arange(nframes * rows * cols, dtype=np.uint16).reshape(nframes, rows, cols)
    return (values * 37) % 500


def small_series(**metadata) -> lazyims.ImageSeries:
    return lazyims.open(frames()).with_metadata(**metadata)


# -- YAML keys --------------------------------------------------------------------------
RAW_HEAD = "filename: d.bin\nshape: 2 3\nskip: 0\n"


def _raw(tmp_path: Path, scalar: str, head: str = RAW_HEAD) -> Path:
    values = np.array([[[-10, 1, 2], [3, 4, 5]]], dtype=">i2")
    (tmp_path / "d.bin").write_bytes(values.tobytes())
    yml = tmp_path / "raw.yml"
    yml.write_text(head + f"scalar: {scalar}\n")
    return yml


def test_the_raw_image_yaml_read_as_written_gives_the_values(tmp_path):
    yml = _raw(tmp_path, "{type: i, bytes: 2, signed: true, endian: big}")
    assert lazyims.open(yml).compute()[0, 0, 0] == -10


def test_a_misspelled_scalar_key_is_an_error_naming_it_and_the_right_one(tmp_path):
    # HEXRD raises KeyError here; read with defaults, -10 would come back as 63231
    yml = _raw(tmp_path, "{type: i, bytes: 2, singed: true, endain: big}")
    with pytest.raises(FileContentError, match="'singed'.*did you mean 'signed'") as info:
        lazyims.open(yml)
    assert info.value.path == str(yml)


@pytest.mark.parametrize(
    "scalar, missing",
    [
        ("{type: i, bytes: 2, signed: true}", "endian"),
        ("{type: i, bytes: 2, endian: big}", "signed"),
        ("{type: f, bytes: 4, signed: true}", "endian"),
    ],
)
def test_a_scalar_key_hexrd_requires_is_required(tmp_path, scalar, missing):
    yml = _raw(tmp_path, scalar)
    with pytest.raises(FileContentError, match=f"no '{missing}'") as info:
        lazyims.open(yml)
    assert info.value.path == str(yml)


@pytest.mark.parametrize(
    "head, key, known",
    [
        ("filename: d.bin\nshape: 2 3\nskipp: 0\n", "skipp", "skip"),
        ("filename: d.bin\nshape: 2 3\nskip: 0\nshapes: 2 3\n", "shapes", "shape"),
    ],
)
def test_an_unknown_raw_image_key_is_an_error(tmp_path, head, key, known):
    yml = _raw(tmp_path, "{type: i, bytes: 2, signed: true, endian: big}", head)
    with pytest.raises(FileContentError, match=f"'{key}'.*did you mean '{known}'"):
        lazyims.open(yml)


def test_raw_image_skip_is_required(tmp_path):
    yml = _raw(tmp_path, "{type: i, bytes: 2, signed: true, endian: big}", "filename: d.bin\n"
               "shape: 2 3\n")  # fmt: skip
    with pytest.raises(FileContentError, match="no 'skip'"):
        lazyims.open(yml)


def _ge_files(tmp_path: Path) -> None:
    header = bytearray(8192)  # zeroed header: 2048 x 2048 uint16 frames
    (tmp_path / "GE").mkdir()
    (tmp_path / "GE" / "s_1.ge2").write_bytes(bytes(header) + bytes(2 * 2048 * 2048 * 2))


@pytest.mark.parametrize(
    "text, key, known",
    [
        ("image-files: {directory: GE, files: s_1.ge2}\noptions: {max-totalframes: 1}\n",
         "max-totalframes", "max-total-frames"),
        ("image-files: {directory: GE, files: s_1.ge2}\noption: {empty-frames: 1}\n",
         "option", "options"),
        ("image-files: {directory: GE, file: s_1.ge2}\n", "file", "files"),
        ("image-files: {directroy: GE, files: s_1.ge2}\n", "directroy", "directory"),
    ],
)  # fmt: skip
def test_an_unknown_image_files_key_is_an_error(tmp_path, text, key, known):
    _ge_files(tmp_path)
    (tmp_path / "s.yml").write_text(text)
    with pytest.raises(FileContentError, match=f"'{key}'.*did you mean '{known}'") as info:
        lazyims.open(tmp_path / "s.yml")
    assert info.value.path == str(tmp_path / "s.yml")


def test_unknown_meta_keys_are_metadata_as_in_hexrd(tmp_path):
    _ge_files(tmp_path)
    (tmp_path / "s.yml").write_text(
        "image-files: {directory: GE, files: s_1.ge2}\nmeta: {pannel: ff1, omgea: 3}\n"
    )
    assert lazyims.open(tmp_path / "s.yml").metadata == {"pannel": "ff1", "omgea": 3}


@pytest.mark.parametrize(
    "edit, key, known",
    [
        (("nframes:", "nframe:"), "nframe", "nframes"),
        (("meta:", "metas:"), "metas", "meta"),
        (("data:", "data:\n  dtpye: uint16"), "dtpye", "dtype"),
    ],
)
def test_an_unknown_yml_frame_cache_key_is_an_error(tmp_path, edit, key, known):
    yml = tmp_path / "fc.yml"
    small_series(panel="ff1").to_framecache(yml, THRESHOLD)
    yml.write_text(yml.read_text().replace(*edit, 1))
    with pytest.raises(FileContentError, match=f"'{key}'.*did you mean '{known}'") as info:
        lazyims.open(yml)
    assert info.value.path == str(yml)


def test_yaml_text_with_a_misspelled_key_is_an_error_too():
    text = "filename: d.bin\nshape: 2 3\nskip: 0\nscalar: {type: i, bytes: 2, signed: true, endain: big}\n"
    with pytest.raises(FileContentError, match="'endain'.*did you mean 'endian'"):
        lazyims.open(io.StringIO(text), format="raw-image")


def test_a_too_long_yml_metadata_name_names_the_yml(tmp_path):
    series = small_series(**{"k" * 300: np.arange(3)})
    with pytest.raises(MetadataError, match="too long") as info:
        series.to_framecache(tmp_path / "a.yml", THRESHOLD)
    assert info.value.path == str(tmp_path / "a.yml")
    assert not list(tmp_path.iterdir())


# -- hostile sizes ----------------------------------------------------------------------
def _npy_header(shape: tuple[int, ...], descr: str) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return out.getvalue()


def _hostile_npy(shape=(HUGE,), descr="<f8") -> bytes:
    return _npy_header(shape, descr) + bytes(16)


def _rewrite_npz(path: Path, replace: dict[str, bytes]) -> None:
    """Rewrite the npz at ``path`` with members replaced or added (name -> .npy bytes)."""
    with zipfile.ZipFile(path) as zin:
        members = {i.filename: zin.read(i) for i in zin.infolist()}
    members.update(replace)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, body in members.items():
            zout.writestr(name, body)


def _declare_member_size(path: Path, member: str, size: int) -> None:
    """Patch the zip's central directory: ``member`` declares ``size`` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_length = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_length] == member.encode():
            struct.pack_into("<L", data, pos + 24, size)
            path.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 1)
    raise AssertionError(member)


def _fch5(path: Path, nframes: int, rows=4, cols=4, spans=None) -> None:
    """A hand-made fch5 whose datasets are declared, not written (chunked: nothing stored)."""
    with h5py.File(path, "w") as f:
        f.attrs["HEXRD_FRAMECACHE_VERSION"] = 1
        f["shape"] = np.array([rows, cols], np.int64)
        f["nframes"] = np.int64(nframes)
        f.create_dataset("dtype", data="uint16", dtype=h5py.string_dtype("ascii"))
        m = spans[-1] if spans else 0
        for name, width in (("data", 1), ("indices", 2)):
            f.create_dataset(
                name,
                shape=(m, width),
                maxshape=(None, width),
                dtype=np.uint16,
                chunks=(1024, width),
            )
        if spans:
            f["frame_ids"] = np.array(spans, np.uint64)
        else:
            f.create_dataset("frame_ids", shape=(2 * nframes,), dtype=np.uint64, chunks=(1024,))
        f.create_group("metadata")


def _edf(path: Path, rows: int, cols: int) -> None:
    header = (
        "{\nHeaderID = EH:000001:000000:000000 ;\nImage = 1 ;\nByteOrder = LowByteFirst ;\n"
        f"DataType = UnsignedShort ;\nDim_1 = {cols} ;\nDim_2 = {rows} ;\n"
        f"Size = {2 * rows * cols} ;\n"
    )
    header = header.ljust(1022) + "}\n"
    path.write_bytes(header.encode() + bytes(64))


def _tiff(path: Path, rows: int, cols: int) -> None:
    """A classic little-endian TIFF of one uint16 image declared ``rows`` x ``cols``."""
    tags = [
        (256, 4, 1, cols),  # ImageWidth, LONG
        (257, 4, 1, rows),  # ImageLength
        (258, 3, 1, 16),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 1),  # black is zero
        (273, 4, 1, 8 + 2 + 12 * 10 + 4),  # StripOffsets: right after the directory
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, rows),  # RowsPerStrip
        (279, 4, 1, 64),  # StripByteCounts (the file holds 64 bytes of pixels)
        (339, 3, 1, 1),  # SampleFormat unsigned
    ]
    ifd = struct.pack("<H", len(tags))
    for tag, kind, count, value in tags:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<L", value)
        ifd += struct.pack("<HHL", tag, kind, count) + packed
    path.write_bytes(b"II*\0" + struct.pack("<L", 8) + ifd + b"\0\0\0\0" + bytes(64))


def _declare_huge_dataset(path: Path, name: str) -> None:
    """Replace (or add) dataset ``name`` by one declaring HUGE float64 values, none stored."""
    with h5py.File(path, "a") as f:
        if name in f:
            del f[name]
        f.create_dataset(name, shape=(HUGE,), dtype=np.float64, chunks=(4096,))


def _hostile_files(tmp: Path) -> dict[str, tuple[str, str]]:
    """Case -> (code to run, the file the error must name)."""
    cases: dict[str, tuple[str, str]] = {}

    npz = tmp / "meta.npz"
    small_series(omega=np.zeros((4, 2))).to_framecache(npz, THRESHOLD)
    _rewrite_npz(npz, {"omega.npy": _hostile_npy()})
    cases["npz metadata member"] = (f"lazyims.open({str(npz)!r})", npz)

    npz = tmp / "frame.npz"
    small_series().to_framecache(npz, THRESHOLD)
    _rewrite_npz(npz, {"0_data.npy": _hostile_npy(descr="<u2")})
    cases["npz frame member"] = (f"lazyims.open({str(npz)!r}).compute()", npz)

    npz = tmp / "header.npz"
    small_series().to_framecache(npz, THRESHOLD)
    _rewrite_npz(npz, {"shape.npy": _hostile_npy((HUGE, 2), "<i8")})
    cases["npz header member"] = (f"lazyims.open({str(npz)!r})", npz)

    npz = tmp / "zipdir.npz"
    small_series().to_framecache(npz, THRESHOLD)
    _declare_member_size(npz, "0_data.npy", 0xF0000000)
    cases["zip directory member size"] = (f"lazyims.open({str(npz)!r}).compute()", npz)

    yml = tmp / "fc.yml"
    small_series(omega=np.zeros((4, 2))).to_framecache(yml, THRESHOLD)
    omega_npy = next(tmp.glob("fc-omega*.npy"))
    omega_npy.write_bytes(_hostile_npy())
    cases["load-numpy-array .npy"] = (f"lazyims.open({str(yml)!r})", omega_npy)

    yml2 = tmp / "fc2.yml"
    small_series().to_framecache(yml2, THRESHOLD)
    cache = next(tmp.glob("fc2_cache*.npz"))
    _rewrite_npz(cache, {"1_row.npy": _hostile_npy(descr="<u2")})
    cases["yml cache frame member"] = (f"lazyims.open({str(yml2)!r}).compute()", cache)

    fch5 = tmp / "frames.fch5"
    _fch5(fch5, HUGE)
    cases["fch5 nframes"] = (f"lazyims.open({str(fch5)!r})", fch5)

    fch5 = tmp / "span.fch5"
    _fch5(fch5, 1, spans=[0, HUGE])
    cases["fch5 frame span"] = (f"lazyims.open({str(fch5)!r}).compute()", fch5)

    fch5 = tmp / "meta.fch5"
    small_series().to_framecache(fch5, THRESHOLD, style="fch5")
    _declare_huge_dataset(fch5, "metadata/omega")
    cases["fch5 metadata"] = (f"lazyims.open({str(fch5)!r})", fch5)

    h5 = tmp / "scan.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("imageseries/images", shape=(HUGE, 4, 4), dtype="u2", chunks=(1, 4, 4))
    cases["hdf5 shape"] = (f"lazyims.open({str(h5)!r})", h5)

    for kind, write in (("edf", _edf), ("tif", _tiff)):
        folder = tmp / kind
        folder.mkdir()
        write(folder / f"big.{kind}", 10**6, 10**6)
        (folder / "s.yml").write_text(f"image-files: {{files: big.{kind}}}\n")
        cases[f"image-files {kind} header"] = (
            f"lazyims.open({str(folder / 's.yml')!r})",
            folder / f"big.{kind}",
        )

    eiger = tmp / "eiger"
    eiger.mkdir()
    master = write_master(eiger, eiger_frames(nframes=2), frames_per_file=2)
    add_goniometer(master, 2)
    _declare_huge_dataset(master, "entry/sample/goniometer/omega")
    cases["eiger goniometer"] = (f"lazyims.open({str(master)!r})", master)

    stream = tmp / "stream.h5"
    write_stream_v1(stream, eiger_frames(nframes=2), "bslz4")
    _declare_huge_dataset(stream, "metadata/omega")
    cases["eiger-stream metadata"] = (
        f"lazyims.open({str(stream)!r}, format='eiger-stream-v1')",
        stream,
    )
    return {case: (code, str(path)) for case, (code, path) in cases.items()}


#: The address space the hostile cases run in: an allocation of what a header declares
#: fails there with MemoryError, never on the machine.
ADDRESS_SPACE = 4 * 2**30

_RUNNER = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {root!r})
import lazyims
cases = json.loads(sys.stdin.read())
out = {{}}
for case, code in cases.items():
    try:
        eval(code)
        out[case] = ["none", False, ""]
    except BaseException as exc:
        out[case] = [type(exc).__name__, isinstance(exc, lazyims.LazyImsError), str(exc)[:400]]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Each hostile case's outcome (error type, a lazyims error?, message) and its file,
    all run in one subprocess under :data:`ADDRESS_SPACE`."""
    cases = _hostile_files(tmp_path_factory.mktemp("hostile"))
    script = textwrap.dedent(_RUNNER.format(limit=ADDRESS_SPACE, root=str(ROOT)))
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps({case: code for case, (code, _) in cases.items()}),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return {case: (results[case], path) for case, (_, path) in cases.items()}


@pytest.mark.parametrize(
    "case",
    [
        "npz metadata member",
        "npz frame member",
        "npz header member",
        "zip directory member size",
        "load-numpy-array .npy",
        "yml cache frame member",
        "fch5 nframes",
        "fch5 frame span",
        "fch5 metadata",
        "hdf5 shape",
        "image-files edf header",
        "image-files tif header",
        "eiger goniometer",
        "eiger-stream metadata",
    ],
)
def test_a_declared_size_is_checked_before_anything_is_allocated(hostile, case):
    (kind, is_lazyims, message), path = hostile[case]
    assert is_lazyims, f"{kind}: {message}"  # never MemoryError nor another bare error
    assert kind in ("FileContentError", "MetadataError"), message
    assert message.startswith(path + ":"), message  # names the file declaring the size


def test_an_npy_whose_header_fits_the_file_loads(tmp_path):
    """The check compares the declared bytes with the bytes there, so real arrays pass."""
    yml = tmp_path / "fc.yml"
    omega = np.arange(8.0).reshape(4, 2)
    small_series(omega=omega, names=np.array(["a", "bc"])).to_framecache(yml, THRESHOLD)
    back = lazyims.open(yml)
    np.testing.assert_array_equal(back.metadata["omega"], omega)
    assert list(back.metadata["names"]) == ["a", "bc"]
    np.testing.assert_array_equal(back.compute(), np.where(frames() > THRESHOLD, frames(), 0))


def test_a_load_numpy_array_file_cut_short_is_an_error_naming_it(tmp_path):
    yml = tmp_path / "fc.yml"
    small_series(omega=np.arange(8.0).reshape(4, 2)).to_framecache(yml, THRESHOLD)
    npy = next(tmp_path.glob("fc-omega*.npy"))
    npy.write_bytes(npy.read_bytes()[:-8])
    with pytest.raises(LazyImsError, match="declares") as info:
        lazyims.open(yml)
    assert info.value.path == str(npy)


# -- chunks missing from stores lazyims wrote ------------------------------------------
def _remove_chunk_file(store: Path, frame: int) -> None:
    (store / "frames" / "c" / str(frame) / "0" / "0").unlink()


@pytest.mark.parametrize("options", [{}, {"shards": (2, 12, 16)}])
def test_a_chunk_missing_from_a_zarr_store_is_an_error(tmp_path, options):
    blank = frames()
    blank[1] = 0  # a chunk of fill values: zarr leaves such chunks out unless told not to
    series = lazyims.open(blank)
    store = tmp_path / "scan.zarr"
    series.write(store, "zarr", **options)
    np.testing.assert_array_equal(lazyims.open(store).compute(), blank)  # all there
    _remove_chunk_file(store, 1 if not options else 0)  # frame 1 (or the shard of 0 and 1)
    opened = lazyims.open(store)
    with pytest.raises(FileContentError, match="missing") as info:
        opened.compute()
    assert info.value.path == str(store)
    np.testing.assert_array_equal(opened[2:].compute(), blank[2:])  # the rest still reads


def test_a_zarr_store_of_another_writer_reads_missing_chunks_as_zarr_does(tmp_path):
    import zarr

    zarr.create_array(tmp_path / "other.zarr", shape=(3, 4, 5), chunks=(1, 4, 5), dtype="u2")
    np.testing.assert_array_equal(lazyims.open(tmp_path / "other.zarr").compute(), 0)


def _drop_hdf5_chunk(path: Path, name: str, keep_up_to: int) -> None:
    """Rewrite dataset ``name`` as it was, but write only its first ``keep_up_to`` rows:
    the chunks past them are missing from HDF5's index, as after a damaged copy."""
    with h5py.File(path, "a") as f:
        old = f[name]
        values, attrs = old[()], dict(old.attrs)
        layout = {"chunks": old.chunks, "maxshape": old.maxshape}  # filters left out
        del f[name]
        new = f.create_dataset(name, shape=values.shape, dtype=values.dtype, **layout)
        new[:keep_up_to] = values[:keep_up_to]
        new.attrs.update(attrs)


def test_a_chunk_missing_from_an_hdf5_file_lazyims_wrote_is_an_error(tmp_path):
    path = tmp_path / "scan.h5"
    lazyims.open(frames()).write(path, "hdf5")
    np.testing.assert_array_equal(lazyims.open(path).compute(), frames())
    _drop_hdf5_chunk(path, "imageseries/images", 3)  # frame 3's chunk is missing
    with pytest.raises(FileContentError, match="missing") as info:
        lazyims.open(path)
    assert info.value.path == str(path)


@pytest.mark.filterwarnings("ignore:.*meant to be sparse")
def test_a_chunk_missing_from_an_fch5_lazyims_wrote_is_an_error(tmp_path):
    path = tmp_path / "fc.fch5"
    big = np.ones((2, 256, 256), np.uint16)  # 131072 stored pixels: two chunks of data
    lazyims.open(big).to_framecache(path, 0, style="fch5")
    np.testing.assert_array_equal(lazyims.open(path).compute(), big)
    _drop_hdf5_chunk(path, "data", 65536)
    with pytest.raises(FileContentError, match="'/data'.*missing") as info:
        lazyims.open(path)
    assert info.value.path == str(path)
