"""The decode floor (issue 20): CPU seconds to decode every frame of the scan once.

What no statistic over all frames can go below: each frame read once in one thread
and dropped. ``h5py`` is what HEXRD's frame loop pays (``dset[i]``, HDF5's zlib);
``lazyims`` is lazyims' own reader (``read_frame``: the raw chunk read, libdeflate
and numpy's unshuffle of ``lazyims/formats/_h5chunks.py``). The report prints the
lazyims figure beside the median's CPU seconds.
"""

from __future__ import annotations

import h5py

import lazyims


def h5py_frames(path) -> int:
    """Decode every frame through h5py, one at a time."""
    with h5py.File(path, "r") as f:
        dset = f["imageseries/images"]
        for i in range(len(dset)):
            dset[i]
        return len(dset)


def lazyims_frames(path) -> int:
    """Decode every frame through lazyims' reader, one at a time (no dask)."""
    ims = lazyims.open(path)
    for i in range(len(ims)):
        ims.read_frame(i)
    return len(ims)
