"""cnn_demo.training.device: the calling thread's CPU threads, set for a block and given back."""

import threading

import pytest
import torch

from cnn_demo.training.device import threads, use_threads


def test_threads_sets_the_count_for_the_block_and_restores_it():
    before = torch.get_num_threads()
    with threads(1):
        assert torch.get_num_threads() == 1
        with threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), threads(1):
        raise RuntimeError("the count comes back after an error too")
    assert torch.get_num_threads() == before


def test_use_threads_is_the_calling_threads_own():
    before = torch.get_num_threads()
    try:
        use_threads(1)
        seen = []
        other = threading.Thread(target=lambda: (use_threads(2), seen.append(torch.get_num_threads())))
        other.start()
        other.join()
        assert seen == [2] and torch.get_num_threads() == 1  # OpenMP's setting is per thread
    finally:
        use_threads(before)
