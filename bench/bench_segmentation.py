"""pytest-benchmark: the segmentation losses, fastloss and each peer side by side.

The cases (shapes, data, peers) are those of `python -m fastloss bench`:
fastloss._bench.cases.  Run with `--benchmark-group-by=group`.  Among them
``dice_label_map``: Dice from a label map + channel-first logits
(8, 21, 256, 256) float32, fastloss's softmax along the class axis with the
one-hot implied, against torch's softmax + one_hot + Dice forward+backward.
"""
import pytest

from fastloss._bench import pytest_support


@pytest.mark.parametrize("case, impl", pytest_support.params("segmentation"))
def test_segmentation(benchmark, case, impl):
    pytest_support.run(benchmark, case, impl)
