"""bench/pairs_table.py: each variant's row says what was added to the training data."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("pairs_table", Path(__file__).parents[2] / "bench" / "pairs_table.py")
pairs_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pairs_table)


def test_variant_labels_name_the_repeat_count_and_the_copies():
    assert pairs_table.variant_label("pairs") == "+ pairs"
    assert pairs_table.variant_label("pairs3") == "+ pairs x3"
    assert pairs_table.variant_label("pairs3-copies") == "+ pairs x3 + copies"
