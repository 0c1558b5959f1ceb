"""Checkpoint writes through mmengine are atomic after ``import lkmm``."""
import os
import stat

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner import save_checkpoint

import lkmm  # noqa: F401
from lkmm.utils.fileio import AtomicLocalBackend


def test_local_backend_is_atomic():
    assert type(get_file_backend('/some/local/path.pth')) is \
        AtomicLocalBackend


def test_interrupted_checkpoint_write_leaves_old_file_intact(tmp_path,
                                                             monkeypatch):
    path = str(tmp_path / 'iter_10.pth')
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, path)
    assert torch.load(path)['state_dict']['w'].sum() == 3
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode & stat.S_IRGRP  # not left at mkstemp's 0600

    def crash(fd):
        raise KeyboardInterrupt  # the run is killed while writing

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, path)
    # The old checkpoint is untouched and no temporary file is left behind.
    assert torch.load(path)['state_dict']['w'].sum() == 3
    assert os.listdir(tmp_path) == ['iter_10.pth']


def test_text_writes_are_atomic_too(tmp_path):
    backend = get_file_backend(str(tmp_path))
    target = tmp_path / 'sub' / 'last_checkpoint'
    backend.put_text('iter_10.pth', target)
    assert target.read_text() == 'iter_10.pth'
