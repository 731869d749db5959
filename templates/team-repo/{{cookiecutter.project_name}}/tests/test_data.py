from __future__ import annotations

import numpy as np

from {{ cookiecutter.package_name }}.data import load_csv, load_dataset, save_csv, split


def test_bundled_dataset_has_rows_features_and_two_classes() -> None:
    dataset = load_dataset()
    assert dataset.features.shape == (569, 30)
    assert len(dataset.feature_names) == 30
    assert set(np.unique(dataset.target)) == {0, 1}


def test_split_is_stratified_and_reproducible() -> None:
    dataset = load_dataset()
    first, second = split(dataset), split(dataset)
    assert len(first.test.target) == 114
    np.testing.assert_array_equal(first.test.features, second.test.features)
    share = dataset.target.mean()
    assert abs(first.train.target.mean() - share) < 0.01
    assert abs(first.test.target.mean() - share) < 0.02


def test_csv_round_trip(tmp_path) -> None:
    dataset = load_dataset()
    save_csv(dataset, tmp_path / "train.csv")
    again = load_csv(tmp_path / "train.csv")
    assert again.feature_names == dataset.feature_names
    np.testing.assert_allclose(again.features, dataset.features)
    np.testing.assert_array_equal(again.target, dataset.target)
