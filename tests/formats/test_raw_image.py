"""The raw-image format: HEXRD's golden raw.yml/raw.ge, headers larger than a frame, bad YAMLs."""

from __future__ import annotations

import io
import pickle
import textwrap
from pathlib import Path

import dask
import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, LazyImsError, MissingFileError, OptionError
from tests.conftest import synthetic_frames


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_golden_raw_image(golden, expected, tmp_path, monkeypatch):
    yml = golden("raw.yml", "raw.ge")
    monkeypatch.chdir(tmp_path.parent)  # filename resolves against the YAML's folder
    ims = lazyims.open(yml)
    assert ims.format == "raw-image"
    assert ims.shape == (4, 48, 64) and ims.dtype == np.uint16
    assert ims.chunks[0] == (1, 1, 1, 1)
    np.testing.assert_array_equal(ims.compute(), expected["frames"][:4])
    np.testing.assert_array_equal(ims[3].compute(), expected["frames"][3])
    part = ims[:, 10:20, 5:9].compute()
    np.testing.assert_array_equal(part, expected["frames"][:4, 10:20, 5:9])


def test_header_larger_than_a_frame(tmp_path):
    """HEXRD's check (size % frame_bytes == skip) rejects this GE-like file; lazyims reads it."""
    frames = synthetic_frames(nframes=3, rows=4, cols=6)  # 48-byte frames after 8192 bytes
    (tmp_path / "d.bin").write_bytes(b"\7" * 8192 + frames.astype("<u2").tobytes())
    yml = write_yaml(
        tmp_path / "r.yaml",
        """
        filename: d.bin
        shape: 4 6
        skip: 8192
        scalar: {type: i, bytes: 2, signed: false, endian: little}
        """,
    )
    np.testing.assert_array_equal(lazyims.open(yml).compute(), frames)


@pytest.mark.parametrize(
    "scalar, dtype",
    [
        ("{type: i, bytes: 4, signed: true, endian: big}", ">i4"),
        ("{type: i, bytes: 1, signed: false, endian: little}", "u1"),
        ("{type: f, bytes: 4, signed: true, endian: big}", ">f4"),
        ("{type: d, endian: little}", "<f8"),
        ("{type: b, bytes: 1, endian: little}", "?"),
    ],
)
def test_scalar_types(tmp_path, scalar, dtype):
    frames = (np.arange(2 * 3 * 5).reshape(2, 3, 5) % 7).astype(dtype)
    (tmp_path / "d.raw").write_bytes(b"HDR" + frames.tobytes())
    text = f"filename: {tmp_path / 'd.raw'}\nshape: [3, 5]\nskip: 3\nscalar: {scalar}\n"
    ims = lazyims.open(io.StringIO(text), format="raw-image")  # YAML text, absolute filename
    assert ims.dtype == np.dtype(dtype).newbyteorder("=")  # machine byte order
    assert ims.compute().dtype.isnative
    np.testing.assert_array_equal(ims.compute(), frames)


def test_sniffing_and_pickling(golden, expected, cluster_client):
    yml = golden("raw.yml", "raw.ge")
    assert lazyims.formats.detect(yml).name == "raw-image"
    ims = lazyims.open(yml, frames_per_chunk=3)
    assert ims.chunks[0] == (3, 1)
    reader = pickle.loads(pickle.dumps(ims._lazy.reader))
    np.testing.assert_array_equal(
        reader.read(1, 3, slice(0, 48), slice(0, 64)), expected["frames"][1:3]
    )
    with dask.config.set(scheduler=cluster_client):
        np.testing.assert_array_equal(ims.data.max(axis=0).compute(), expected["frames"][:4].max(0))


GOOD = {
    "filename": "raw.ge",
    "shape": "48 64",
    "skip": "2048",
    "scalar": "{type: i, bytes: 2, signed: false, endian: little}",
}


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"filename": None}, FileContentError, "no 'filename'"),
        ({"scalar": None}, FileContentError, "no 'scalar'"),
        ({"filename": "nothere.ge"}, MissingFileError, "nothere.ge"),
        ({"filename": "[1]"}, OptionError, "filename must be text"),
        ({"skip": "2000"}, FileContentError, "raw.ge: size 26624 is not skip=2000"),
        ({"skip": "-1"}, OptionError, "skip"),
        ({"skip": "lots"}, OptionError, "skip"),
        ({"shape": "48"}, OptionError, "shape"),
        ({"shape": "48 0"}, OptionError, "shape"),
        ({"shape": "48 63"}, FileContentError, "raw.ge: size"),
        ({"skip": "26624"}, FileContentError, "no frame"),
        ({"scalar": "{type: i, bytes: 3, signed: false, endian: big}"}, OptionError, "bytes"),
        ({"scalar": "{type: q, bytes: 2, endian: big}"}, OptionError, "type"),
        ({"scalar": "{type: f, bytes: 8, endian: big}"}, OptionError, "4 byte"),
        ({"scalar": "{type: i, bytes: 2, signed: true, endian: middle}"}, OptionError, "endian"),
        ({"scalar": "{type: i, bytes: 2, signed: maybe, endian: big}"}, OptionError, "signed"),
        ({"scalar": "i2"}, OptionError, "mapping"),
    ],
)
def test_bad_yaml(golden, change, error, match):
    yml = golden("raw.yml", "raw.ge")
    fields = {**GOOD, **change}
    yml.write_text("".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None))
    with pytest.raises(error, match=match) as info:
        lazyims.open(yml, format="raw-image")
    assert isinstance(info.value, LazyImsError) and info.value.path is not None


def test_truncated_after_open(golden):
    yml = golden("raw.yml", "raw.ge")
    ims = lazyims.open(yml)
    data = yml.with_name("raw.ge")
    data.write_bytes(data.read_bytes()[: 2048 + 2 * 48 * 64 * 2])
    # the file changed since open: every read is an error, not what is left of it
    for frame in (1, 3):
        with pytest.raises(FileContentError, match="raw.ge: the file was replaced or changed"):
            ims[frame].compute()
