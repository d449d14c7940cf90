from benchmarks import scene_mesh


def test_scene_mesh_benchmark_times_every_env_on_the_same_actions():
    figures = scene_mesh.measure(face_size=16, rounds=2, steps_per_round=3, ground_cells=8)
    assert figures["steps_per_env"] == 6 and figures["mesh_triangles"] > 2 * 8 * 8
    assert set(figures["steps_per_s"]) == {"mesh", *(f"procedural_{s}" for s in scene_mesh.PROCEDURAL_SEEDS)}
    assert all(rate > 0 for rate in figures["steps_per_s"].values())
    ratio = figures["procedural_steps_per_s"] / figures["mesh_steps_per_s"]
    assert abs(figures["ratio_procedural_over_mesh"] - ratio) < 1e-2
    assert "procedural / mesh" in scene_mesh.report(figures)
