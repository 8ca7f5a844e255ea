"""Omega wedges and angle lookups against HEXRD's results on the golden scan."""

from __future__ import annotations

import numpy as np
import pytest

import lazyims
from lazyims import OmegaError, OmegaWedges, omega
from tests.conftest import DATA

OMEGAS = [0.0, 2.4, 29.99, 45.0, 60.0, 89.9, 361.0, -300.0]


@pytest.fixture
def scan():
    return lazyims.open(DATA / "scan.h5", frames_per_chunk=5)


def test_omega_to_frame_equals_hexrd(scan, expected):
    found = [scan.omega_to_frame(om) for om in OMEGAS]
    np.testing.assert_array_equal(found, expected["omega_to_frame"])
    assert omega.omega_to_frame(scan, np.float32(2.4)) == (0, 0)


def test_omegarange_to_frames_equals_hexrd(scan, expected):
    assert scan.omegarange_to_frames(2, 70) == list(expected["omegarange_2_70"]) == []
    assert scan.omegarange_to_frames(62, 88) == expected["omegarange_62_88"].tolist()
    assert scan.omegarange_to_frames(88, 62) == []  # backwards
    assert scan.omegarange_to_frames(45, 62) == []  # starts in the gap


def test_wedges_of_the_scan(scan, expected):
    wedges = scan.omega_wedges()
    assert wedges.nwedges == 2 and wedges.wframes == 12
    assert wedges.wedges == [
        {"ostart": 0.0, "ostop": 30.0, "nsteps": 6},
        {"ostart": 60.0, "ostop": 90.0, "nsteps": 6},
    ]
    np.testing.assert_array_equal(wedges.omegas, expected["omega"])


def test_omega_range_is_a_lazy_selection(scan, expected):
    picked = scan.omega_range(62, 88)
    assert picked.nframes == 6
    np.testing.assert_array_equal(picked.metadata["omega"], expected["omega"][6:])
    np.testing.assert_array_equal(picked.compute(), expected["frames"][6:])
    with pytest.raises(OmegaError, match="no frames"):
        scan.omega_range(2, 70)


def test_wedges_that_meet_modulo_360():
    w = OmegaWedges(10)
    w.addwedge(300, 360, 6)  # 10 degree steps
    w.addwedge(0, 20, 4)  # 5 degree steps: a new wedge starting where the last stopped
    series = lazyims.open(np.zeros((10, 2, 2), np.uint8), metadata={"omega": w.omegas})
    assert series.omega_wedges().nwedges == 2
    assert series.omega_to_frame(725) == (7, 1)  # 725 = 5 mod 360
    assert series.omegarange_to_frames(335, 12) == [3, 4, 5, 6, 7, 8]
    assert series.omegarange_to_frames(-25, 372) == [3, 4, 5, 6, 7, 8]


def test_omega_wedges_building():
    w = OmegaWedges(9)
    w.addwedge(0, 30, 3)
    w.addwedge(100, 130, 3)
    w.addwedge(50, 80, 3, loc=1)
    assert [x["ostart"] for x in w.wedges] == [0, 50, 100]
    assert w.nwedges == 3 and w.wframes == 9
    np.testing.assert_allclose(w.omegas[3:6], [[50, 60], [60, 70], [70, 80]])
    w.delwedge(2)
    assert w.wframes == 6
    with pytest.raises(OmegaError, match="6 steps"):
        _ = w.omegas
    with pytest.raises(OmegaError):
        w.delwedge(5)
    with pytest.raises(OmegaError):
        w.addwedge(10, 5, 3)
    with pytest.raises(OmegaError):
        w.addwedge(0, 5, 0)
    with pytest.raises(OmegaError):
        OmegaWedges(-1)


def test_save_omegas_round_trip(tmp_path):
    w = OmegaWedges(4)
    w.addwedge(-10, 10, 4)
    w.save_omegas(tmp_path / "omegas.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "omegas.npy"), w.omegas)
    np.testing.assert_array_equal(w.omegas, [[-10, -5], [-5, 0], [0, 5], [5, 10]])


@pytest.mark.parametrize(
    "metadata, match",
    [
        ({}, "no omega"),
        ({"omega": np.zeros((4, 2))}, "increase"),
        ({"omega": np.array([[0, 1], [1, 2], [2, 1.5], [3, 4]])}, "increase"),
        ({"omega": np.array([[0, 1], [1, 2]])}, "2 rows"),
        ({"omega": np.arange(4.0)}, r"\(nframes, 2\)"),
        ({"omega": np.array([["a", "b"]] * 4)}, "numeric"),
    ],
)
def test_bad_omega_metadata_is_an_error(metadata, match):
    series = lazyims.open(np.zeros((4, 2, 2), np.uint8))
    series = series.with_metadata(**metadata) if metadata else series
    for call in (
        lambda: series.omega_wedges(),
        lambda: series.omega_to_frame(1.0),
        lambda: series.omegarange_to_frames(0, 1),
    ):
        with pytest.raises(OmegaError, match=match):
            call()


def test_bad_angles_are_errors(scan):
    with pytest.raises(OmegaError):
        scan.omega_to_frame("10")
    with pytest.raises(OmegaError):
        scan.omegarange_to_frames(None, 10)
