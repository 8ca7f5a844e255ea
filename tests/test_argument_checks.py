"""The public functions of processing, stats and omega check what they are given, and
statistics and writers refuse frames of no rows or no columns."""

from __future__ import annotations

import inspect

import h5py
import numpy as np
import pytest

import lazyims
from lazyims import omega, processing, stats
from lazyims.errors import OmegaError, ProcessingError, WriteError

MODULES = {processing: ProcessingError, stats: ProcessingError, omega: OmegaError}


def _series_functions() -> list[tuple[object, str]]:
    """Every public function of the three modules whose first parameter is a series."""
    found = []
    for module in MODULES:
        for name, func in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            if func.__module__ != module.__name__:
                continue
            first = next(iter(inspect.signature(func).parameters), None)
            if first == "series":
                found.append((module, name))
    return found


SERIES_FUNCTIONS = _series_functions()

#: Arguments after the series that the function would accept with a real series.
SECOND = {
    "dark": (np.zeros((4, 5)),),
    "flip": ("v",),
    "rectangle": (((0, 2), (0, 3)),),
    "add_row": (1,),
    "add_column": (1,),
    "add": (1.0,),
    "gauss_laplace": (1.0,),
    "threshold": (1.0,),
    "frames": ([0],),
    "process": ([("flip", "v")],),
    "percentile": (50,),
    "omega_to_frame": (1.0,),
    "omegarange_to_frames": (0.0, 2.0),
    "omega_range": (0.0, 2.0),
}

WRONG = {
    "ndarray": (np.zeros((3, 4, 5)), ["numpy array", "(3, 4, 5)", "lazyims.open(array)"]),
    "None": (None, ["not None"]),
    "list": ([[1, 2], [3, 4]], ["list"]),
    "path": ("scan.h5", ["'scan.h5'", "lazyims.open(path)"]),
    "number": (3, ["int"]),
}


def test_the_checked_functions_are_all_the_public_ones():
    names = {name for _, name in SERIES_FUNCTIONS}
    assert {"dark", "flip", "rectangle", "threshold", "frames", "process"} <= names
    assert {"max", "min", "sum", "average", "median", "percentile"} <= names
    assert {"wedges", "omega_to_frame", "omegarange_to_frames", "omega_range"} <= names
    assert names <= set(SECOND) | {"max", "min", "sum", "average", "median", "wedges"}


@pytest.mark.parametrize("wrong", list(WRONG), ids=str)
@pytest.mark.parametrize(
    ("module", "name"), SERIES_FUNCTIONS, ids=[f"{m.__name__}.{n}" for m, n in SERIES_FUNCTIONS]
)
def test_a_function_given_something_else_says_what_it_got_and_takes(module, name, wrong):
    value, words = WRONG[wrong]
    func = getattr(module, name)
    with pytest.raises(MODULES[module]) as info:
        func(value, *SECOND.get(name, ()))
    message = str(info.value)
    assert f"{module.__name__}.{name}()" in message
    assert "takes a lazyims ImageSeries" in message
    for word in words:
        assert word in message, message


def _series() -> lazyims.ImageSeries:
    frames = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    omegas = np.column_stack([np.arange(3.0), np.arange(1.0, 4.0)])
    return lazyims.open(frames, metadata={"omega": omegas})


@pytest.mark.parametrize(
    ("module", "name"), SERIES_FUNCTIONS, ids=[f"{m.__name__}.{n}" for m, n in SERIES_FUNCTIONS]
)
def test_a_function_given_a_series_works_positionally_and_by_keyword(module, name):
    func = getattr(module, name)
    ims = _series()
    by_position = func(ims, *SECOND.get(name, ()))
    by_keyword = func(*SECOND.get(name, ())[:0], series=ims, **_keywords(func, name))
    assert type(by_position) is type(by_keyword)
    if isinstance(by_position, lazyims.ImageSeries):
        np.testing.assert_array_equal(by_position.compute(), by_keyword.compute())


def _keywords(func, name) -> dict:
    params = list(inspect.signature(func).parameters)[1:]
    return dict(zip(params, SECOND.get(name, ())))


def test_the_checks_keep_names_docstrings_and_signatures():
    # mkdocstrings and help() show the function, not the check around it
    assert processing.flip.__name__ == "flip"
    assert processing.flip.__doc__.startswith("Flip, transpose or rotate every frame")
    assert list(inspect.signature(processing.flip).parameters) == ["series", "code"]
    assert list(inspect.signature(stats.median).parameters) == [
        "series",
        "nframes",
        "band_bytes",
        "tmpdir",
    ]
    assert stats.percentile.__doc__ and "Parameters" in stats.percentile.__doc__
    assert inspect.signature(omega.omega_range).return_annotation == "ImageSeries"


def test_the_issue_cases():
    with pytest.raises(ProcessingError, match="numpy array"):
        processing.flip(np.zeros((3, 8, 8)), "v")
    with pytest.raises(ProcessingError, match="numpy array"):
        processing.frames(np.zeros((3, 8, 8)), [0])
    with pytest.raises(ProcessingError, match="numpy array"):
        processing.dark(np.zeros((3, 8, 8)), np.zeros((8, 8)))


def test_a_missing_argument_is_pythons_own_error():
    with pytest.raises(TypeError, match="missing"):
        processing.flip()


def test_a_hexrd_interface_series_is_pointed_to_from_hexrd():
    adapter = _series().to_hexrd()
    with pytest.raises(ProcessingError, match=r"lazyims\.hexrd\.from_hexrd"):
        stats.max(adapter)


# -- frames of no rows or no columns ------------------------------------------------------
EMPTY_FRAMES = {
    "no rows": lambda: lazyims.open(np.zeros((3, 0, 5), np.uint16)),
    "no columns": lambda: lazyims.open(np.ones((3, 4, 5), np.uint16))[:, :, 2:2],
}


@pytest.mark.parametrize("empty", list(EMPTY_FRAMES))
@pytest.mark.parametrize("stat", ["max", "min", "sum", "average", "median", "percentile"])
def test_statistics_of_frames_without_pixels_are_a_processing_error(stat, empty):
    ims = EMPTY_FRAMES[empty]()
    args = (10,) if stat == "percentile" else ()
    with pytest.raises(ProcessingError, match="needs pixels") as info:
        getattr(ims, stat)(*args)
    assert "x 0" in str(info.value) or "0 x" in str(info.value)


def test_the_hexrd_layers_statistics_of_frames_without_pixels_are_an_error():
    from lazyims.hexrd import stats as hexrd_stats

    ims = EMPTY_FRAMES["no rows"]().to_hexrd()
    for func in (hexrd_stats.max, hexrd_stats.percentile, hexrd_stats.average):
        with pytest.raises(lazyims.LazyImsError):
            func(ims, *((50,) if func is hexrd_stats.percentile else ()))


def _writers(tmp_path):
    from lazyims.formats import framecache, hdf5, zarr
    from lazyims.hexrd.save import write as hexrd_write

    def into_h5_group(fmt, **options):
        def write(ims):
            with h5py.File(tmp_path / "held.h5", "a") as handle:
                hexrd_write(ims, handle, fmt, **options)

        return write

    return {
        "hdf5": lambda ims: lazyims.write(ims, tmp_path / "a.h5", "hdf5"),
        "zarr": lambda ims: ims.to_zarr(tmp_path / "a.zarr"),
        "npz": lambda ims: ims.to_framecache(tmp_path / "a.npz", threshold=0),
        "fch5": lambda ims: ims.to_framecache(tmp_path / "a.fch5", threshold=0),
        "yml": lambda ims: ims.to_framecache(tmp_path / "a.yml", threshold=0),
        "write_hdf5": lambda ims: hdf5.write_hdf5(ims, tmp_path / "b.h5"),
        "write_zarr": lambda ims: zarr.write_zarr(ims, tmp_path / "b.zarr"),
        "write_framecache yml": lambda ims: framecache.write_framecache(
            ims, tmp_path / "b.yml", threshold=0
        ),
        "hexrd hdf5 into an open file": into_h5_group("hdf5", path="imageseries"),
        "hexrd fch5 into an open file": into_h5_group("frame-cache", threshold=0, style="fch5"),
    }


WRITERS = list(_writers(None))


@pytest.mark.parametrize("empty", list(EMPTY_FRAMES))
@pytest.mark.parametrize("writer", WRITERS)
def test_writers_refuse_frames_without_pixels(tmp_path, writer, empty):
    ims = EMPTY_FRAMES[empty]()
    with pytest.raises(WriteError, match="empty series") as info:
        _writers(tmp_path)[writer](ims)
    assert info.value.path is not None and str(tmp_path) in info.value.path
    left = sorted(p.name for p in tmp_path.iterdir())
    if writer.startswith("hexrd"):
        assert left == ["held.h5"]  # the caller's file, with nothing added to it
        with h5py.File(tmp_path / "held.h5", "r") as f:
            assert list(f) == [] and dict(f.attrs) == {}
    else:
        assert left == []
