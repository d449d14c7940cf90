import numpy as np
import pytest

from worldengine.eval.visualize import CROSS_SLOTS, cube_cross, equirect_image, topdown_map
from worldengine.geometry.cube import face_rays
from worldengine.scenes.freespace import FreeGrid

S = 8
F, R, B, L, U, D = range(6)
COLOURS = np.array([[220, 20, 20], [20, 220, 20], [20, 20, 220], [220, 220, 20], [20, 220, 220], [220, 20, 220]], np.uint8)


def _flat_faces() -> np.ndarray:
    """(F, S, S, 3) uint8: every face one flat colour of its own."""
    return np.broadcast_to(COLOURS[:, None, None, :], (6, S, S, 3)).copy()


# ---------------------------------------------------------------------------
# cube_cross
# ---------------------------------------------------------------------------


def test_cross_slots_put_f_in_the_middle():
    # Row 1 is L F R B from the left; U above F, D below it.
    assert CROSS_SLOTS == ((1, 1), (1, 2), (1, 3), (1, 0), (0, 1), (2, 1))
    rgb = np.random.default_rng(0).integers(0, 256, (6, S, S, 3), dtype=np.uint8)
    cross = cube_cross(rgb)
    assert cross.shape == (3 * S, 4 * S, 3) and cross.dtype == np.uint8
    expected = {F: (1, 1), R: (1, 2), B: (1, 3), L: (1, 0), U: (0, 1), D: (2, 1)}
    covered = np.zeros((3, 4), dtype=bool)
    for face, (row, col) in expected.items():
        np.testing.assert_array_equal(cross[row * S:(row + 1) * S, col * S:(col + 1) * S], rgb[face])
        covered[row, col] = True
    for row, col in zip(*np.nonzero(~covered)):
        assert (cross[row * S:(row + 1) * S, col * S:(col + 1) * S] == 0).all()  # black outside


def test_cross_is_seamless_in_geometry():
    # Unfold the body-frame ray direction of every pixel: pixels that touch across an
    # inner edge of the cross look in almost the same direction (one pixel apart).
    rays = face_rays(S, unit=True).numpy()  # (F, S, S, 3)
    cross = cube_cross(rays)
    pixel = 2.0 / S  # about one pixel's angle at a face edge, radians, with margin
    seams = [
        (cross[S:2 * S, S - 1], cross[S:2 * S, S]),  # L | F
        (cross[S:2 * S, 2 * S - 1], cross[S:2 * S, 2 * S]),  # F | R
        (cross[S:2 * S, 3 * S - 1], cross[S:2 * S, 3 * S]),  # R | B
        (cross[S - 1, S:2 * S], cross[S, S:2 * S]),  # U over F
        (cross[2 * S - 1, S:2 * S], cross[2 * S, S:2 * S]),  # F over D
        (cross[S:2 * S, 4 * S - 1], cross[S:2 * S, 0]),  # B | L (wraps round)
    ]
    for a, b in seams:
        angle = np.arccos(np.clip((a * b).sum(-1), -1, 1))
        assert angle.max() < pixel


# ---------------------------------------------------------------------------
# equirect_image
# ---------------------------------------------------------------------------


def test_equirect_of_flat_faces_puts_each_face_where_it_looks():
    image = equirect_image(_flat_faces())
    h, w = 2 * S, 4 * S
    assert image.shape == (h, w, 3) and image.dtype == np.uint8
    mid = h // 2
    np.testing.assert_array_equal(image[mid, w // 2], COLOURS[F])  # lon 0: forward
    np.testing.assert_array_equal(image[mid, 3 * w // 4], COLOURS[R])  # lon +90: +x, the right
    np.testing.assert_array_equal(image[mid, w // 4], COLOURS[L])  # lon -90
    np.testing.assert_array_equal(image[mid, 0], COLOURS[B])  # lon -180: behind
    np.testing.assert_array_equal(image[mid, w - 1], COLOURS[B])
    assert (image[0] == COLOURS[U]).all()  # the top row looks up
    assert (image[-1] == COLOURS[D]).all()  # the bottom row looks down


def test_equirect_height_and_colour_range():
    rgb = np.random.default_rng(1).integers(0, 256, (6, S, S, 3), dtype=np.uint8)
    image = equirect_image(rgb, height=10)
    assert image.shape == (10, 20, 3) and image.dtype == np.uint8
    assert image.min() >= rgb.min() and image.max() <= rgb.max()  # interpolation never overshoots
    assert (equirect_image(np.full((6, S, S, 3), 255, np.uint8)) == 255).all()


@pytest.mark.parametrize("shape", [(5, S, S, 3), (6, S, S + 1, 3), (6, S, S, 4), (6, S, S), (1, 6, S, S, 3)])
def test_bad_face_shapes(shape):
    rgb = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match=r"\(6, S, S, 3\)"):
        equirect_image(rgb)
    with pytest.raises(ValueError, match=r"\(6, S, S, 3\)"):
        cube_cross(rgb)


# ---------------------------------------------------------------------------
# topdown_map
# ---------------------------------------------------------------------------


def _grid() -> FreeGrid:
    free = np.ones((6, 10), dtype=bool)
    free[0, :] = False
    free[:, 9] = False
    return FreeGrid(free, (-1.0, 2.0), 0.5)


def test_topdown_map_shape_floor_and_start_marker():
    grid, scale = _grid(), 4
    start = grid.centre(3, 2)  # (x, z) of cell row 3, column 2
    end = grid.centre(4, 7)
    positions = np.array([[start[0], 1.5, start[1]], [end[0], 1.5, end[1]]])
    image = topdown_map(grid, positions, scale=scale)
    assert image.shape == (6 * scale, 10 * scale, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[3 * scale + 2, 2 * scale + 2], (30, 200, 60))  # green start square
    np.testing.assert_array_equal(image[4 * scale + 2, 7 * scale + 2], (255, 40, 0))  # the end dot, red
    np.testing.assert_array_equal(image[0, 0], (60, 60, 60))  # blocked row 0: dark
    np.testing.assert_array_equal(image[5 * scale + 1, 9 * scale + 1], (60, 60, 60))  # blocked column 9
    np.testing.assert_array_equal(image[5 * scale + 1, 1], (235, 235, 235))  # free floor: light


def test_topdown_map_path_runs_blue_to_red():
    grid = _grid()
    xs = grid.centre(np.full(8, 2), np.arange(1, 9))  # along row 2, columns 1..8
    positions = np.stack([xs[:, 0], np.zeros(8), xs[:, 1]], axis=-1)
    image = topdown_map(grid, positions, scale=4)
    colours = np.array([image[2 * 4 + 2, j * 4 + 2] for j in range(2, 9)])  # past the start marker
    assert (np.diff(colours[:, 0].astype(int)) > 0).all() and (np.diff(colours[:, 2].astype(int)) < 0).all()
    np.testing.assert_array_equal(colours[-1], (255, 40, 0))


def test_topdown_map_empty_off_map_and_bad_positions():
    grid = _grid()
    plain = topdown_map(grid, np.zeros((0, 3)))
    assert set(map(tuple, plain.reshape(-1, 3))) == {(60, 60, 60), (235, 235, 235)}
    np.testing.assert_array_equal(topdown_map(grid, []), plain)
    # a start off the map draws nothing (in particular, no marker smeared down the map
    # by a negative slice start)
    for x, z in [(1.0, 0.75), (-30.0, -40.0), (1.0, 99.0), (99.0, 3.0)]:
        np.testing.assert_array_equal(topdown_map(grid, np.array([[x, 0.0, z]])), plain)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        topdown_map(grid, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        topdown_map(grid, np.zeros(3))
