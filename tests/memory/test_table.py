import torch

from memory.table import TokenTable


def _rows(keys: list[int], channels: int = 2) -> dict[str, torch.Tensor]:
    n = len(keys)
    return {"key": torch.tensor(keys, dtype=torch.int64), "position": torch.zeros(n, 3),
            "feature": torch.zeros(n, channels, dtype=torch.float16), "rgb": torch.zeros(n, 3, dtype=torch.uint8),
            "frame": torch.zeros(n, dtype=torch.int64), "time": torch.zeros(n), "weight": torch.ones(n)}


def test_rows_in_key_ranges_are_every_row_of_both_runs_in_the_ranges_in_order():
    table = TokenTable(channels=2)
    table.load(_rows([2, 5, 6, 7, 11, 30, 31, 40]))  # the main run
    table.upsert(_rows([0, 8, 9, 33]))  # new voxels go to the delta run
    assert len(table.delta["key"]) == 4
    starts, stops = torch.tensor([0, 6, 12, 30, 39]), torch.tensor([3, 10, 20, 34, 41])  # [12, 20) holds none
    rows = table.rows_in_key_ranges(starts, stops)
    keys = table.columns()["key"]
    inside = ((keys[:, None] >= starts) & (keys[:, None] < stops)).any(1)
    assert torch.equal(rows, torch.nonzero(inside).flatten())
    assert keys[rows].tolist() == [2, 6, 7, 30, 31, 40, 0, 8, 9, 33]
    assert table.rows_in_key_ranges(torch.tensor([12]), torch.tensor([20])).tolist() == []
    assert table.rows_in_key_ranges(torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)).tolist() == []
