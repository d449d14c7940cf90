"""memory/files.py: files written whole or not at all; format records checked with clear errors."""

import os

import pytest

from memory.files import FILE_MODE, atomic_write, atomic_write_bytes, check_format, temp_name


def _strays(folder, name):
    return [p for p in os.listdir(folder) if p.startswith(temp_name(folder / name))]


def test_atomic_write_replaces_whole_with_a_readable_mode(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == FILE_MODE
    assert _strays(tmp_path, "record.json") == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old weights")

    def half_then_fail(temp):
        temp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old weights" and _strays(tmp_path, "model.safetensors") == []


def test_unwritable_folder_is_named(tmp_path):
    with pytest.raises(PermissionError, match="cannot write"):
        atomic_write_bytes(tmp_path / "missing-folder" / "x.json", b"{}")


def test_check_format_names_the_file_and_what_is_wrong():
    check_format({"format": "a.b", "version": 2}, "a.b", 2, "/data/s", "thing store")  # fits: no error
    with pytest.raises(ValueError, match=r"/data/s is not a thing store \(format 'x'\)"):
        check_format({"format": "x", "version": 2}, "a.b", 2, "/data/s", "thing store")
    with pytest.raises(ValueError, match="/data/s has thing store version 3; this code reads version 2"):
        check_format({"format": "a.b", "version": 3}, "a.b", 2, "/data/s", "thing store")
