"""The image-files format: GE, TIFF and EDF files written here, both YAML dialects, bad YAMLs."""

from __future__ import annotations

import io
import struct
import textwrap
import zlib
from pathlib import Path

import dask
import numpy as np
import pytest

import lazyims
from lazyims.errors import (
    FileContentError,
    LazyImsError,
    MetadataError,
    MissingFileError,
    OptionError,
)
from lazyims.formats import image_files
from tests.conftest import synthetic_frames

# --------------------------------------------------------------------------- writing test files


def write_ge(path: Path, frames: np.ndarray, blank: bool = False) -> None:
    """A GE file: 8192-byte header (ADEPT fields, or zeros), then little-endian uint16 frames."""
    header = bytearray(8192)
    if not blank:
        rows, cols = frames.shape[1:]
        header[:10] = b"ADEPT\0\0\0\0\0"
        header[10:30] = struct.pack("<HLHLHHHH", 1, 8192, 1, 0, len(frames), rows, cols, 16)
    path.write_bytes(bytes(header) + frames.astype("<u2").tobytes())


def write_tiff(path: Path, frame: np.ndarray) -> None:
    from fabio.tifimage import TifImage

    TifImage(data=frame).write(str(path))


def write_edf(path: Path, frames: np.ndarray) -> None:
    """A multi-frame EDF written by fabio."""
    from fabio.edfimage import EdfImage

    edf = EdfImage(data=frames[0])
    for frame in frames[1:]:
        edf.append_frame(data=frame)
    edf.write(str(path))


def edf_block(frame: np.ndarray, corrupt: bool = False) -> bytes:
    """One zlib-compressed EDF frame; ``corrupt`` keeps the header but garbles the pixels."""
    blob = zlib.compress(frame.astype("<u2").tobytes())
    if corrupt:
        blob = b"\xff" * len(blob)
    keys = {
        "HeaderID": "EH:000001:000000:000000",
        "ByteOrder": "LowByteFirst",
        "DataType": "UnsignedShort",
        "Dim_1": frame.shape[1],
        "Dim_2": frame.shape[0],
        "Size": len(blob),
        "Compression": "ZLIB",
    }
    text = "{\n" + "".join(f"{k} = {v} ;\n" for k, v in keys.items())
    text += " " * (512 - (len(text) + 2) % 512) + "}\n"
    return text.encode() + blob


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


#: The image-files block of the ``ge_scan`` fixture's files.
HEAD = "image-files: {directory: GE, files: '*.ge2'}\n"


@pytest.fixture
def ge_scan(tmp_path):
    """Three GE files of 4 frames (the first is empty) and the frames they hold."""
    frames = synthetic_frames(nframes=12, rows=8, cols=10)
    (tmp_path / "GE").mkdir()
    for i in range(3):
        write_ge(tmp_path / "GE" / f"scan_{i:05d}.ge2", frames[4 * i : 4 * i + 4])
    return tmp_path, frames


# --------------------------------------------------------------------------- reading


def test_ge_hexrd_dialect_empty_frames_and_omega(ge_scan, tmp_path, monkeypatch):
    folder, frames = ge_scan
    omega = np.stack([np.arange(9.0), np.arange(1.0, 10.0)], axis=1)
    np.save(folder / "omegas.npy", omega)
    yml = write_yaml(
        folder / "scan.yml",
        """
        image-files:
          directory: GE
          files: "scan_*.ge2"
        options:
          empty-frames: 1
          max-file-frames: 0
          max-total-frames: 0
        meta:
          omega: "! load-numpy-array omegas.npy"
          panel: ff1
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # directory and .npy resolve against the YAML's folder
    ims = lazyims.open(yml)
    assert ims.format == "image-files"
    assert ims.shape == (9, 8, 10) and ims.dtype == np.uint16
    assert ims.chunks[0] == (1,) * 9  # one chunk per frame
    keep = [i for i in range(12) if i % 4 != 0]
    np.testing.assert_array_equal(ims.compute(), frames[keep])
    np.testing.assert_array_equal(ims.metadata["omega"], omega)
    assert ims.metadata["panel"] == "ff1"
    np.testing.assert_array_equal(ims[5].compute(), frames[keep[5]])
    # a region read cuts rows out of the file directly
    part = ims[:, 2:6, 3:7].compute()
    np.testing.assert_array_equal(part, frames[keep][:, 2:6, 3:7])


def test_older_dialect_top_level_options_and_metadata(ge_scan):
    folder, frames = ge_scan
    yml = write_yaml(
        folder / "old.yaml",
        """
        image-files:
          directory: GE
          files: scan_00002.ge2 scan_00000.ge2
        empty-frames: 1
        max-file-frames: 2
        max-total-frames: 3
        metadata:
          omega: ++np.array
          omega-array: [[0, 1], [1, 2], [2, 3]]
        """,
    )
    ims = lazyims.open(yml)
    # sorted: file 0 gives frames 1, 2; file 2 gives frame 9 (total capped at 3)
    np.testing.assert_array_equal(ims.compute(), frames[[1, 2, 9]])
    np.testing.assert_array_equal(ims.metadata["omega"], [[0, 1], [1, 2], [2, 3]])
    assert "omega-array" not in ims.metadata
    assert [Path(f).name for f in ims.files] == ["old.yaml", "scan_00000.ge2", "scan_00002.ge2"]


def test_yaml_text_list_of_patterns_sorted_together(ge_scan, monkeypatch):
    folder, frames = ge_scan
    monkeypatch.chdir(folder)  # YAML text: directory relative to the working folder
    text = (
        "image-files:\n  directory: GE\n"
        "  files: ['scan_0000[2].ge2', 'scan_00000.ge2 scan_00001.*']\n"
    )
    ims = lazyims.open(io.StringIO(text), format="image-files")
    assert len(ims) == 12
    np.testing.assert_array_equal(ims.compute(), frames)
    assert ims.metadata == {}
    assert lazyims.open(io.StringIO(text)).format == "image-files"  # recognised as text
    # a str is always a path, never guessed to be YAML text
    with pytest.raises(MissingFileError, match=r"io\.StringIO"):
        lazyims.open(text, format="image-files")
    with pytest.raises(MissingFileError, match="no such file"):
        lazyims.open("missing:scan.yml", format="image-files")
    with pytest.raises(MissingFileError):
        lazyims.open("missing:scan.yml")


def test_ge_blank_header_is_2048_square(tmp_path):
    frame = np.zeros((1, 2048, 2048), np.uint16)
    frame[0, 5, 7] = 321
    write_ge(tmp_path / "a.ge3", frame, blank=True)
    yml = write_yaml(tmp_path / "s.yml", "image-files: {directory: ., files: a.ge3}\n")
    ims = lazyims.open(yml)
    assert ims.shape == (1, 2048, 2048)
    assert ims[0][5, 7].compute() == 321


def test_tiff_single_frame_files_and_dtype_cast(tmp_path):
    frames = synthetic_frames(nframes=5, rows=6, cols=7)
    for i, frame in enumerate(frames):
        write_tiff(tmp_path / f"img_{i:03d}.tif", frame)
    yml = write_yaml(
        tmp_path / "t.yml",
        """
        image-files: {directory: ., files: "img_*.tif"}
        options: {dtype: float32}
        """,
    )
    ims = lazyims.open(yml)
    assert ims.dtype == np.float32 and ims.shape == (5, 6, 7)
    np.testing.assert_array_equal(ims.compute(), frames.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_tiff_header_type_matches_pixels(tmp_path, dtype):
    frame = (np.arange(12).reshape(3, 4) * 3).astype(dtype)
    write_tiff(tmp_path / "x.tiff", frame)
    ims = lazyims.open(write_yaml(tmp_path / "x.yml", "image-files: {files: x.tiff}\n"))
    assert ims.dtype == dtype
    np.testing.assert_array_equal(ims.compute()[0], frame)


def test_gel_files_are_decoded(tmp_path):
    frame = np.array([[0, 1, 2], [65535, 1000, 40000]], np.uint16)
    write_tiff(tmp_path / "g.gel", frame)
    ims = lazyims.open(write_yaml(tmp_path / "g.yml", "image-files: {files: g.gel}\n"))
    assert ims.dtype == np.float64
    expected = np.invert(frame).astype(np.float64) ** 2 * 2.9452155399372724e-07
    np.testing.assert_allclose(ims.compute()[0], expected)


def test_multi_frame_edf_with_empty_frames(tmp_path):
    frames = synthetic_frames(nframes=8, rows=5, cols=6)
    write_edf(tmp_path / "a_1.edf", frames[:4])
    write_edf(tmp_path / "a_2.edf", frames[4:])
    yml = write_yaml(
        tmp_path / "e.yml", "image-files: {files: a_*.edf}\noptions: {empty-frames: 2}\n"
    )
    ims = lazyims.open(yml)
    np.testing.assert_array_equal(ims.compute(), frames[[2, 3, 6, 7]])


def test_frame_k_of_an_edf_is_read_without_frame_0(tmp_path):
    frames = synthetic_frames(nframes=3, rows=4, cols=5)
    blocks = [edf_block(frames[0], corrupt=True), edf_block(frames[1]), edf_block(frames[2])]
    (tmp_path / "z.edf").write_bytes(b"".join(blocks))
    ims = lazyims.open(write_yaml(tmp_path / "z.yml", "image-files: {files: z.edf}\n"))
    np.testing.assert_array_equal(ims[2].compute(), frames[2])
    with pytest.raises(FileContentError, match="z.edf"):
        ims[0].compute()


def test_a_thousand_files_open_without_reading_pixels(tmp_path):
    frame = np.arange(12, dtype=np.uint16).reshape(3, 4)
    damaged = edf_block(frame, corrupt=True)  # any pixel read would fail
    for i in range(1000):
        (tmp_path / f"f_{i:04d}.edf").write_bytes(damaged)
    ims = lazyims.open(write_yaml(tmp_path / "many.yml", "image-files: {files: f_*.edf}\n"))
    assert ims.shape == (1000, 3, 4) and len(ims.chunks[0]) == 1000
    with pytest.raises(FileContentError, match="f_0999.edf"):
        ims[999].compute()
    (tmp_path / "f_0500.edf").unlink()
    with pytest.raises(MissingFileError, match="f_0500.edf: the image file is gone"):
        ims[500].compute()


def test_sniffing_picks_image_files(ge_scan):
    folder, _ = ge_scan
    yml = write_yaml(folder / "s.yaml", "image-files: {directory: GE, files: scan_00001.ge2}\n")
    assert lazyims.formats.detect(yml).name == "image-files"
    assert len(lazyims.open(yml)) == 4


def test_computed_on_a_local_cluster(ge_scan, cluster_client):
    folder, frames = ge_scan
    yml = write_yaml(folder / "c.yml", HEAD)
    ims = lazyims.open(yml)
    total = cluster_client.compute(ims.data.sum(axis=0)).result()
    np.testing.assert_array_equal(total, frames.sum(axis=0, dtype=np.uint64))
    with dask.config.set(scheduler=cluster_client):
        np.testing.assert_array_equal(ims.compute(), frames)


# --------------------------------------------------------------------------- bad input


def bad(folder: Path, text: str, error: type, match: str) -> None:
    yml = write_yaml(folder / "bad.yml", text)
    with pytest.raises(error, match=match) as info:
        lazyims.open(yml, format="image-files")
    assert isinstance(info.value, LazyImsError)
    assert info.value.path is not None


@pytest.mark.parametrize(
    "text, error, match",
    [
        ("options: {empty-frames: 1}\n", FileContentError, "no 'image-files:'"),
        ("image-files: [a, b]\n", FileContentError, "no 'image-files:'"),
        ("image-files: {directory: GE}\n", OptionError, "needs 'files'"),
        ("image-files: {directory: GE, files: 3}\n", OptionError, "needs 'files'"),
        ("image-files: {directory: GE, files: 'x_*.ge2'}\n", MissingFileError, "x_\\*.ge2"),
        ("image-files: {directory: nowhere, files: '*.ge2'}\n", MissingFileError, "nowhere"),
        (
            HEAD + "options: {empty-frames: 4}\n",
            FileContentError,
            "scan_00000.ge2: the file has 4 frame",
        ),
        (
            HEAD + "options: {empty-frames: two}\n",
            OptionError,
            "empty-frames",
        ),
        (
            HEAD + "max-total-frames: -1\n",
            OptionError,
            "max-total-frames",
        ),
        (
            HEAD + "options: {max-file-frames: 1.5}\n",
            OptionError,
            "max-file-frames",
        ),
        (
            HEAD + "options: {dtype: notatype}\n",
            OptionError,
            "dtype",
        ),
        (
            HEAD + "options: {empty_frames: 1}\n",
            FileContentError,
            "unknown key 'empty_frames' in the image-files YAML's options; "
            "did you mean 'empty-frames'",
        ),
        (HEAD + "options: [1]\n", OptionError, "mapping"),
        (
            HEAD + "meta: {omega: '! load-numpy-array no.npy'}\n",
            MissingFileError,
            "no.npy",
        ),
        (
            HEAD + "meta: {omega: '! load-python evil'}\n",
            MetadataError,
            "unknown trigger",
        ),
        (
            HEAD + "meta: {omega: ++np.array}\n",
            MetadataError,
            "omega-array",
        ),
        (
            HEAD + "meta: {}\nmetadata: {}\n",
            MetadataError,
            "both",
        ),
    ],
)
def test_bad_yaml(ge_scan, text, error, match):
    bad(ge_scan[0], text, error, match)


def test_files_that_disagree(tmp_path):
    write_ge(tmp_path / "a.ge", synthetic_frames(nframes=2, rows=8, cols=10))
    write_ge(tmp_path / "b.ge", synthetic_frames(nframes=2, rows=8, cols=12))
    with pytest.raises(FileContentError, match="b.ge: shape"):
        lazyims.open(write_yaml(tmp_path / "s.yml", "image-files: {files: '*.ge'}\n"))
    write_tiff(tmp_path / "c.tif", np.zeros((4, 4), np.uint16))
    write_tiff(tmp_path / "d.tif", np.zeros((4, 4), np.float32))
    with pytest.raises(FileContentError, match="d.tif: dtype"):
        lazyims.open(write_yaml(tmp_path / "s.yml", "image-files: {files: '*.tif'}\n"))
    with pytest.raises(FileContentError, match="different image types"):
        lazyims.open(write_yaml(tmp_path / "s.yml", "image-files: {files: 'a.ge c.tif'}\n"))


def test_truncated_ge_file(tmp_path):
    write_ge(tmp_path / "a.ge", synthetic_frames(nframes=2, rows=8, cols=10))
    with open(tmp_path / "a.ge", "ab") as f:
        f.write(b"\0" * 7)
    with pytest.raises(FileContentError, match="a.ge: size"):
        lazyims.open(write_yaml(tmp_path / "s.yml", "image-files: {files: a.ge}\n"))


def test_cast_that_does_not_fit(tmp_path):
    frame = np.array([[0, 300], [5, 6]], np.uint16)
    write_tiff(tmp_path / "a.tif", frame)
    ims = lazyims.open(
        write_yaml(tmp_path / "s.yml", "image-files: {files: a.tif}\noptions: {dtype: uint8}\n")
    )
    assert ims.dtype == np.uint8  # open only reads headers; the cast is checked per frame
    with pytest.raises(FileContentError, match="a.tif: frame 0 has values 0..300"):
        ims.compute()


def test_missing_file_at_compute(ge_scan):
    folder, _ = ge_scan
    ims = lazyims.open(write_yaml(folder / "s.yml", "image-files: {directory: GE, files: '*'}\n"))
    (folder / "GE" / "scan_00001.ge2").unlink()
    with pytest.raises(MissingFileError, match="scan_00001.ge2"):
        ims[5].compute()


def test_probe_does_not_read_pixels_of_tiff(tmp_path, monkeypatch):
    write_tiff(tmp_path / "a.tif", np.ones((3, 3), np.uint16))
    from fabio.TiffIO import TiffIO

    def no_pixels(*args, **kwargs):
        raise AssertionError("pixels read while probing")

    monkeypatch.setattr(TiffIO, "getData", no_pixels)
    info = image_files.probe(str(tmp_path / "a.tif"))
    assert (info.nframes, info.shape, info.dtype) == (1, (3, 3), np.dtype(np.uint16))


def test_multi_frame_tiff_frame_k(tmp_path):
    from fabio.TiffIO import TiffIO

    frames = synthetic_frames(nframes=4, rows=5, cols=6)
    TiffIO(str(tmp_path / "m.tif"), mode="wb").writeImage(frames[0])
    for frame in frames[1:]:
        tiff = TiffIO(str(tmp_path / "m.tif"), mode="rb+")
        tiff.writeImage(frame)
        tiff.close()
    yml = write_yaml(tmp_path / "m.yml", "image-files: {files: m.tif}\nempty-frames: 1\n")
    ims = lazyims.open(yml)
    assert ims.shape == (3, 5, 6)
    np.testing.assert_array_equal(ims[2].compute(), frames[3])
    np.testing.assert_array_equal(ims.compute(), frames[1:])


def test_other_fabio_formats_cbf(tmp_path):
    from fabio.cbfimage import CbfImage

    frames = synthetic_frames(nframes=2, rows=5, cols=6, dtype=np.int32)
    for i, frame in enumerate(frames):
        CbfImage(data=frame).write(str(tmp_path / f"c_{i}.cbf"))
    ims = lazyims.open(write_yaml(tmp_path / "c.yml", "image-files: {files: '*.cbf'}\n"))
    assert ims.dtype == np.int32
    np.testing.assert_array_equal(ims.compute(), frames)


@pytest.mark.parametrize(
    "value, dtype, match",
    [
        (np.nan, "uint16", "NaN"),
        (-1.0, "uint16", "values -1.0"),
        (1e39, "float32", "values too large"),
    ],
)
def test_float_cast_that_does_not_fit(tmp_path, value, dtype, match):
    frame = np.array([[0.0, value]], np.float64)
    write_edf(tmp_path / "f.edf", frame[np.newaxis])
    yml = write_yaml(tmp_path / "f.yml", f"image-files: {{files: f.edf}}\ndtype: {dtype}\n")
    with pytest.raises(FileContentError, match=f"f.edf: frame 0 has {match}"):
        lazyims.open(yml).compute()


def test_only_a_lone_bang_word_makes_a_trigger_as_in_hexrd(ge_scan):
    # HEXRD reads a value as a `! command` only when its first word is "!" and more
    # words follow: "!", "!word ..." and "a ! b" are plain strings there and here.
    tmp_path, _ = ge_scan
    np.save(tmp_path / "om.npy", np.arange(3.0))
    yml = tmp_path / "scan.yml"
    yml.write_text(
        HEAD + "meta: {a: '!', b: '!load-numpy-array om.npy', c: 'a ! b',"
        " d: '  ! load-numpy-array om.npy'}\n"
    )
    meta = lazyims.open(yml).metadata
    assert (meta["a"], meta["b"], meta["c"]) == ("!", "!load-numpy-array om.npy", "a ! b")
    np.testing.assert_array_equal(meta["d"], np.arange(3.0))
