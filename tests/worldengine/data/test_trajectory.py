import numpy as np
import pytest
import zarr
from zarr.codecs import ZstdCodec

from worldengine.data.record import record
from worldengine.data.trajectory import FORMAT, TIME_CHUNK, VERSION, TrajectoryReader, TrajectoryWriter

S = 8
LENGTHS = (13, 5)  # 13 frames: one full chunk of 8 and a partial one of 5; 5: a single partial chunk
DIMS = {
    "rgb": ("time", "face", "row", "col", "channel"),
    "depth": ("time", "face", "row", "col"),
    "pose": ("time", "row4", "col4"),
    "action": ("time",),
}


def _episode(rng, length, continuous=False):
    """Synthetic frames: rgb (T, F, S, S, 3) uint8, depth (T, F, S, S), pose (T, 4, 4), action."""
    rgb = rng.integers(0, 256, (length, 6, S, S, 3), dtype=np.uint8)
    depth = rng.uniform(0.1, 20.0, (length, 6, S, S)).astype(np.float32)
    depth[:, :, 0, 0] = 0.0  # sky pixels
    pose = rng.normal(size=(length, 4, 4)).astype(np.float32)
    if continuous:
        action = rng.uniform(-1, 1, (length, 4)).astype(np.float32)
        action[0] = np.nan
    else:
        action = rng.integers(0, 9, length).astype(np.int64)
        action[0] = -1
    return {"rgb": rgb, "depth": depth, "pose": pose, "action": action}


def _write(path, episodes, continuous=False):
    writer = TrajectoryWriter(path, S)
    for k, frames in enumerate(episodes):
        episode = writer.begin_episode({"scene_seed": 100 + k, "scene_kind": "room"}, continuous_actions=continuous)
        for t in range(len(frames["rgb"])):
            episode.add(*(frames[name][t] for name in ("rgb", "depth", "pose", "action")))
        episode.close(routes=[{"kind": "loop"}])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "traj.zarr"
    rng = np.random.default_rng(0)
    episodes = [_episode(rng, n) for n in LENGTHS]
    _write(path, episodes)
    return path, episodes


def test_store_and_episode_attrs(store):
    path, _ = store
    reader = TrajectoryReader(path)
    attrs = dict(reader.root.attrs)
    assert attrs["format"] == FORMAT and attrs["version"] == VERSION and attrs["face_size"] == S
    assert reader.face_size == S and len(reader) == 2
    for k, n in enumerate(LENGTHS):
        ep = reader.episode_attrs(k)
        assert ep["scene_seed"] == 100 + k and ep["scene_kind"] == "room"
        assert ep["routes"] == [{"kind": "loop"}]
        assert ep["steps"] == n == reader.episode_length(k)


def test_arrays_shapes_dtypes_dims_codec_and_time_chunks(store):
    path, _ = store
    reader = TrajectoryReader(path)
    for k, n in enumerate(LENGTHS):
        group = reader.episodes[k]
        shapes = {"rgb": (n, 6, S, S, 3), "depth": (n, 6, S, S), "pose": (n, 4, 4), "action": (n,)}
        dtypes = {"rgb": np.uint8, "depth": np.float32, "pose": np.float32, "action": np.int64}
        for name in DIMS:
            array = group[name]
            assert array.shape == shapes[name], name
            assert array.dtype == dtypes[name], name
            assert tuple(array.metadata.dimension_names) == DIMS[name]
            assert array.metadata.zarr_format == 3
            assert any(isinstance(c, ZstdCodec) for c in array.compressors), array.compressors
            assert array.chunks == (TIME_CHUNK, *shapes[name][1:]), name  # chunked in time only
            assert array.nchunks == -(-n // TIME_CHUNK)


def test_exact_round_trip_including_partial_last_chunk(store):
    path, episodes = store
    reader = TrajectoryReader(path)
    for k, frames in enumerate(episodes):
        window = reader.window(k, 0, LENGTHS[k])
        for name in ("rgb", "depth", "pose", "action"):
            np.testing.assert_array_equal(getattr(window, name), frames[name], err_msg=name)
        assert window.action[0] == -1
        assert window.episode == k and window.start == 0
    # a window that straddles the chunk boundary and ends in the partial chunk
    window = reader.window(0, TIME_CHUNK - 2, 7)
    np.testing.assert_array_equal(window.rgb, episodes[0]["rgb"][TIME_CHUNK - 2:TIME_CHUNK + 5])
    np.testing.assert_array_equal(window.pose, episodes[0]["pose"][TIME_CHUNK - 2:TIME_CHUNK + 5])


def test_continuous_actions_round_trip(tmp_path):
    frames = _episode(np.random.default_rng(1), 10, continuous=True)
    _write(tmp_path / "c.zarr", [frames], continuous=True)
    reader = TrajectoryReader(tmp_path / "c.zarr")
    array = reader.episodes[0]["action"]
    assert array.shape == (10, 4) and array.dtype == np.float32
    assert tuple(array.metadata.dimension_names) == ("time", "rate")
    window = reader.window(0, 0, 10)
    assert np.isnan(window.action[0]).all()
    np.testing.assert_array_equal(window.action[1:], frames["action"][1:])


def test_appending_to_an_existing_store_adds_episodes(tmp_path):
    path = tmp_path / "a.zarr"
    rng = np.random.default_rng(2)
    first, second = _episode(rng, 3), _episode(rng, 4)
    _write(path, [first])
    _write(path, [second])
    reader = TrajectoryReader(path)
    assert len(reader) == 2 and [reader.episode_length(k) for k in range(2)] == [3, 4]
    np.testing.assert_array_equal(reader.window(1, 0, 4).depth, second["depth"])


def test_windows_count_and_stride(store):
    path, _ = store
    reader = TrajectoryReader(path)
    windows = list(reader.windows(4, stride=3))
    # episode 0 (13 frames): starts 0 3 6 9; episode 1 (5 frames): start 0
    assert [(w.episode, w.start) for w in windows] == [(0, 0), (0, 3), (0, 6), (0, 9), (1, 0)]
    assert all(w.rgb.shape == (4, 6, S, S, 3) and w.action.shape == (4,) for w in windows)
    assert len(list(reader.windows(1))) == sum(LENGTHS)
    assert len(list(reader.windows(6))) == 13 - 6 + 1  # episode 1 is too short for any
    assert list(reader.windows(14)) == []


def test_windows_shuffle_is_seeded(store):
    path, _ = store
    reader = TrajectoryReader(path)

    def order(**kw):
        return [(w.episode, w.start) for w in reader.windows(2, **kw)]

    plain = order()
    a, b, c = order(shuffle=True, seed=7), order(shuffle=True, seed=7), order(shuffle=True, seed=8)
    assert a == b
    assert a != plain and a != c
    assert sorted(a) == sorted(plain) == sorted(c)


@pytest.mark.parametrize("shuffle", [False, True])
def test_windows_shard_disjoint_and_complete(store, shuffle):
    path, _ = store
    reader = TrajectoryReader(path)
    everything = [(w.episode, w.start) for w in reader.windows(3, shuffle=shuffle, seed=3)]
    shards = [[(w.episode, w.start) for w in reader.windows(3, shuffle=shuffle, seed=3, rank=r, world_size=2)]
              for r in range(2)]
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == sorted(everything)
    assert len(set(everything)) == len(everything) == 11 + 3
    assert abs(len(shards[0]) - len(shards[1])) <= 1


def test_window_out_of_range(store):
    path, _ = store
    reader = TrajectoryReader(path)
    for episode, start, length in [(0, 10, 4), (0, -1, 2), (1, 0, 6), (0, 0, 0), (0, 2, -1), (2, 0, 1), (-1, 0, 1)]:
        with pytest.raises(ValueError):
            reader.window(episode, start, length)
    reader.window(0, 9, 4)  # the last full window is fine
    with pytest.raises(ValueError, match="length and stride"):
        next(reader.windows(0))
    with pytest.raises(ValueError, match="stride"):
        next(reader.windows(2, stride=0))
    with pytest.raises(ValueError, match="rank"):
        next(reader.windows(2, rank=2, world_size=2))


def test_missing_store():
    with pytest.raises(FileNotFoundError, match="not found"):
        TrajectoryReader("/nonexistent/dir/traj.zarr")


def test_other_version_or_format_is_refused(tmp_path):
    path = tmp_path / "v.zarr"
    _write(path, [_episode(np.random.default_rng(3), 2)])
    zarr.open_group(str(path), mode="a").attrs["version"] = VERSION + 1
    with pytest.raises(ValueError, match=f"version {VERSION + 1}"):
        TrajectoryReader(path)
    with pytest.raises(ValueError, match="version"):
        TrajectoryWriter(path, S)

    other = tmp_path / "other.zarr"
    zarr.open_group(str(other), mode="w", zarr_format=3).attrs.update({"format": "someone.else", "version": 1})
    with pytest.raises(ValueError, match="not a worldengine trajectory store"):
        TrajectoryReader(other)
    with pytest.raises(ValueError, match="not a worldengine trajectory store"):
        TrajectoryWriter(other, S)


def test_face_size_mismatch_on_append(tmp_path):
    path = tmp_path / "f.zarr"
    _write(path, [_episode(np.random.default_rng(4), 2)])
    with pytest.raises(ValueError, match="face size 8, not 16"):
        TrajectoryWriter(path, 16)
    assert len(TrajectoryReader(path)) == 1


def test_frame_of_wrong_shape_is_refused_at_once(tmp_path):
    writer = TrajectoryWriter(tmp_path / "s.zarr", S)
    episode = writer.begin_episode({"scene_seed": 0})
    frames = _episode(np.random.default_rng(5), 1)
    good = [frames[name][0] for name in ("rgb", "depth", "pose", "action")]
    bad_rgb = np.zeros((6, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match=r"rgb .*\(6, 8, 8, 3\).*\(6, 16, 16, 3\)"):
        episode.add(bad_rgb, *good[1:])
    with pytest.raises(ValueError, match="pose"):
        episode.add(good[0], good[1], np.eye(3), good[3])
    episode.add(*good)  # nothing half-written by the refused frames
    episode.close()
    assert TrajectoryReader(tmp_path / "s.zarr").episode_length(0) == 1


def test_recorded_episode_round_trips(tmp_path):
    path = tmp_path / "rec.zarr"
    summary = record(path, episodes=1, steps=12, face_size=S, first_seed=5, progress=False)
    reader = TrajectoryReader(path)
    assert len(reader) == 1 and reader.face_size == S
    assert reader.episode_length(0) == 13  # the reset frame and 12 steps
    attrs = reader.episode_attrs(0)
    assert attrs["scene_seed"] == 5 == summary[0]["scene_seed"]
    assert attrs["action_kind"] == "discrete" and attrs["scene_kind"] == summary[0]["scene_kind"]
    assert attrs["blocked_steps"] == summary[0]["blocked_steps"] and len(attrs["routes"]) == summary[0]["routes"]
    window = reader.window(0, 0, 13)
    assert window.rgb.shape == (13, 6, S, S, 3) and window.rgb.dtype == np.uint8
    assert window.depth.shape == (13, 6, S, S) and window.depth.dtype == np.float32
    assert window.action.dtype == np.int64 and window.action[0] == -1
    assert ((window.action[1:] >= 0) & (window.action[1:] < 9)).all()
    assert (window.depth >= 0).all() and (window.depth > 0).any()
    np.testing.assert_allclose(window.pose[:, 3], np.tile([0, 0, 0, 1], (13, 1)))
    assert reader.episodes[0]["rgb"].nchunks == 2
