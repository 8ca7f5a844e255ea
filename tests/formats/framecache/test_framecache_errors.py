"""Bad frame-cache files and bad write requests give lazyims errors naming the file."""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np
import pytest

import lazyims
from tests.conftest import synthetic_frames


def series_of(frames, **metadata):
    return lazyims.open(da.from_array(frames, chunks=(2, -1, -1))).with_metadata(**metadata)


@pytest.fixture
def small():
    return series_of(synthetic_frames(nframes=3), omega=np.zeros((3, 2)))


# -- reading ------------------------------------------------------------------------
def test_truncated_npz(golden):
    path = golden("fc.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(lazyims.FileContentError, match="truncated") as err:
        lazyims.open(path)
    assert str(path) in str(err.value)


def test_npz_missing_a_frame_member(tmp_path, small):
    import zipfile

    small.to_framecache(tmp_path / "ok.npz", 60)
    with (
        zipfile.ZipFile(tmp_path / "ok.npz") as src,
        zipfile.ZipFile(tmp_path / "cut.npz", "w") as dst,
    ):
        for info in src.infolist():
            if info.filename != "2_col.npy":
                dst.writestr(info.filename, src.read(info))
    with pytest.raises(lazyims.FileContentError, match="2_col") as err:
        lazyims.open(tmp_path / "cut.npz")
    assert "cut.npz" in str(err.value)


def test_npz_without_header_is_not_a_framecache(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(lazyims.FileContentError, match="not a frame-cache"):
        lazyims.open(tmp_path / "other.npz")


def test_yml_cache_npz_opened_alone_points_to_its_yml(tmp_path, small):
    small.to_framecache(tmp_path / "s.yml", 60)
    with pytest.raises(lazyims.FileContentError, match="opens through its .yml"):
        lazyims.open(tmp_path / "s_cache.npz")


def test_fch5_of_another_version(golden):
    path = golden("fc.fch5")
    with h5py.File(path, "a") as f:
        f.attrs["HEXRD_FRAMECACHE_VERSION"] = 2
    with pytest.raises(lazyims.FileContentError, match="version") as err:
        lazyims.open(path)
    assert "fc.fch5" in str(err.value)


def test_fch5_missing_a_dataset(golden):
    path = golden("fc.fch5")
    with h5py.File(path, "a") as f:
        del f["indices"]
    with pytest.raises(lazyims.FileContentError, match="indices") as err:
        lazyims.open(path)
    assert "fc.fch5" in str(err.value)


def test_fch5_group_that_is_no_framecache(tmp_path, small):
    small.to_framecache(tmp_path / "g.h5", 60, group="a/b")
    with pytest.raises(lazyims.FileContentError, match="no group"):
        lazyims.open(tmp_path / "g.h5", format="frame-cache", path="nowhere")


def test_fch5_file_with_several_caches_needs_path(tmp_path, small):
    small.to_framecache(tmp_path / "two.h5", 60, group="ff1")
    with h5py.File(tmp_path / "two.h5", "a") as f:
        f.copy("ff1", "ff2")
    with pytest.raises(lazyims.FileContentError, match="several groups"):
        lazyims.open(tmp_path / "two.h5")
    assert lazyims.open(tmp_path / "two.h5", path="ff2").nframes == 3


def test_yml_naming_a_missing_cache(golden):
    path = golden("fc_yml.yml", "fc_yml-omega.npy", "fc_yml-panel.npy")
    with pytest.raises(lazyims.MissingFileError, match="fc_yml_cache.npz"):
        lazyims.open(path)


def test_yml_naming_a_missing_npy(golden):
    path = golden("fc_yml.yml", "fc_yml_cache.npz", "fc_yml-panel.npy")
    with pytest.raises(lazyims.MissingFileError, match="omega"):
        lazyims.open(path)


def test_pixels_outside_the_frame(tmp_path, small):
    small.to_framecache(tmp_path / "ok.fch5", 60)
    with h5py.File(tmp_path / "ok.fch5", "a") as f:
        f["shape"][...] = [4, 4]
    ims = lazyims.open(tmp_path / "ok.fch5")
    with pytest.raises(lazyims.FileContentError, match="outside"):
        ims.compute()


def test_bad_open_options(golden):
    with pytest.raises(lazyims.OptionError, match="style"):
        lazyims.open(golden("fc.npz"), format="frame-cache", style="zip")
    with pytest.raises(lazyims.OptionError, match="path"):
        lazyims.open(golden("fc.npz"), path="x")
    with pytest.raises(lazyims.OptionError, match="frames_per_chunk"):
        lazyims.open(golden("fc.npz"), frames_per_chunk=0)


# -- writing ------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [float("nan"), "20", None, True, 1 + 2j])
def test_bad_thresholds(tmp_path, small, threshold):
    with pytest.raises(lazyims.OptionError, match="threshold") as err:
        small.to_framecache(tmp_path / "x.npz", threshold)
    assert "x.npz" in str(err.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["shape", "nframes", "dtype", "3_row", "0_data"])
def test_reserved_metadata_names(tmp_path, small, name):
    with pytest.raises(lazyims.MetadataError, match="reserved"):
        small.with_metadata(**{name: 1}).to_framecache(tmp_path / "x.npz", 60)
    assert not list(tmp_path.iterdir())


BAD_VALUES = {"none": None, "object": object(), "mixed": [1, "a", None], "dict": {"nested": 1}}


@pytest.mark.parametrize(
    "style, kind",
    [(s, k) for s in ("npz", "fch5", "yml") for k in BAD_VALUES if (s, k) != ("fch5", "dict")],
)
def test_metadata_needing_pickle_is_refused_before_writing(tmp_path, small, style, kind):
    value = BAD_VALUES[kind]  # (fch5 stores a dict as a group, so a dict is fine there)
    target = tmp_path / f"x.{style}"
    target.write_bytes(b"previous content")
    with pytest.raises(lazyims.MetadataError) as err:
        small.with_metadata(bad=value).to_framecache(target, 60, style=style)
    assert "'bad'" in str(err.value) and "x." in str(err.value)
    assert target.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_frames_too_large_for_uint16_indices(tmp_path):
    ims = lazyims.open(da.zeros((1, 65537, 2), dtype=np.uint8, chunks=(1, 65537, 2)))
    with pytest.raises(lazyims.WriteError, match="65536"):
        ims.to_framecache(tmp_path / "huge.npz", 0)


def test_bad_style_and_misplaced_group(tmp_path, small):
    with pytest.raises(lazyims.OptionError, match="style"):
        small.to_framecache(tmp_path / "x.npz", 60, style="tar")
    with pytest.raises(lazyims.OptionError, match="path"):
        lazyims.write(small, tmp_path / "x.npz", "frame-cache", threshold=60, path="g")


def test_refuses_to_overwrite_the_cache_being_read(golden):
    path = golden("fc.npz")
    with pytest.raises(lazyims.WriteError, match="reads from"):
        lazyims.open(path).to_framecache(path, 50)


def test_a_failed_write_leaves_the_old_file(tmp_path, small):
    target = tmp_path / "x.fch5"
    small.to_framecache(target, 60)
    before = target.read_bytes()

    def boom(block):
        raise RuntimeError("detector on fire")

    failing = small.map_blocks(boom, dtype=small.dtype)
    with pytest.raises(RuntimeError, match="on fire"):
        failing.to_framecache(target, 60)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.fch5"]
