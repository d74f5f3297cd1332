import numpy as np
import pytest

from protrude_train import protrusion_data, shapes


def block(shape, box):
    mask = np.zeros(shape, bool)
    mask[box] = True
    return mask


# Kidney: a 10x10x10 block (1000 voxels) in a 30^3 grid. Tumors are slabs whose
# overlap with the kidney and protruded share are set by their x range.
SHAPE = (30, 30, 30)
KIDNEY = block(SHAPE, np.s_[10:20, 10:20, 10:20])


@pytest.mark.parametrize("name,tumor_box,accepted", [
    # 10x10x5 = 500 voxels, all outside: overlap 0, protruded 1.
    ("outside the kidney", np.s_[10:20, 10:20, 20:25], True),
    # 10x10x4 = 400 voxels, all inside: protruded 0.
    ("inside the kidney", np.s_[10:20, 10:20, 12:16], False),
    # 10x10x4 inside = 400 of 1000 kidney voxels (0.40 > 0.30), 100 outside.
    ("covers 40 percent", np.s_[10:20, 10:20, 16:21], False),
    # 10x10x3 inside = exactly 0.30 of the kidney, 10x10x2 outside: accepted at the limit.
    ("covers exactly 30 percent", np.s_[10:20, 10:20, 17:22], True),
    # 2000 voxels covering the whole kidney: overlap 1.0, half protruded.
    ("covers the whole kidney", np.s_[0:20, 10:20, 10:20], False),
])
def test_accept_sample_table(name, tumor_box, accepted):
    tumor = block(SHAPE, tumor_box)
    assert protrusion_data.accept_sample(KIDNEY, tumor) is accepted, name


def test_accept_sample_protrusion_limit():
    # A 20x10x1 tumor: 100 voxels; 5 outside the kidney gives exactly 0.05.
    kidney = block(SHAPE, np.s_[0:20, 0:20, 0:20])
    tumor = np.zeros(SHAPE, bool)
    tumor[0:10, 0:10, 19] = True  # 100 voxels, all inside
    tumor[0:5, 0:1, 19] = False   # drop 5 ...
    tumor[0:5, 0:1, 20] = True    # ... and put them outside
    assert protrusion_data.accept_sample(kidney, tumor)
    tumor[0, 0, 20] = False
    tumor[0, 0, 19] = True        # 4 of 100 outside: below 0.05
    assert not protrusion_data.accept_sample(kidney, tumor)


def test_accept_sample_rejects_empty_masks():
    empty = np.zeros(SHAPE, bool)
    assert not protrusion_data.accept_sample(empty, KIDNEY)
    assert not protrusion_data.accept_sample(KIDNEY, empty)


def test_make_sample_on_synthetic_shapes():
    rng = np.random.default_rng(3)
    kidneys = [np.pad(shapes.ellipsoid((40, 20, 15)), 4)]
    tumors = [shapes.ellipsoid((8, 8, 8)), shapes.ellipsoid((12, 9, 7))]
    for _ in range(5):
        sample = protrusion_data.make_sample(kidneys, tumors, rng, 32, negative_probability=0.0)
        assert sample.soft_input.shape == (32, 32, 32)
        assert sample.soft_input.min() >= 0.0
        assert sample.soft_input.max() <= 1.0
        assert sample.target.any(), "an accepted sample must have a protruded part in its patch"
        assert not (sample.target & ~sample.union).any(), "target must lie inside the union"


def test_make_sample_negative_has_empty_target():
    rng = np.random.default_rng(4)
    kidneys = [np.pad(shapes.ellipsoid((40, 20, 15)), 4)]
    sample = protrusion_data.make_sample(kidneys, [shapes.ellipsoid((8, 8, 8))], rng, 32, negative_probability=1.0)
    assert not sample.target.any()
    assert sample.union.any()


def test_every_dataset_sample_meets_both_conditions(small_library):
    kidneys, tumors = protrusion_data.shapes_for_pdn(small_library)
    dataset = protrusion_data.ProtrusionDataset(kidneys, tumors, seed=5, patch_size=48, size=10_000)
    assert len(dataset) == 10_000
    for index in range(0, 10_000, 500):  # 20 samples spread over the dataset
        sample = dataset[index]
        if not sample.target.any() and sample.protruded_fraction == 0.0:
            continue  # a tumor-free negative sample
        assert sample.kidney_overlap <= protrusion_data.MAX_KIDNEY_OVERLAP, index
        assert sample.protruded_fraction >= protrusion_data.MIN_PROTRUDED_FRACTION, index
        assert not (sample.target & ~sample.union).any()


def test_dataset_samples_are_fixed_by_seed_and_index():
    kidneys = [np.pad(shapes.ellipsoid((40, 20, 15)), 4)]
    tumors = [shapes.ellipsoid((8, 8, 8)), shapes.ellipsoid((12, 9, 7))]
    first = protrusion_data.ProtrusionDataset(kidneys, tumors, seed=1, patch_size=32, size=100)
    second = protrusion_data.ProtrusionDataset(kidneys, tumors, seed=1, patch_size=32, size=100)
    other_seed = protrusion_data.ProtrusionDataset(kidneys, tumors, seed=2, patch_size=32, size=100)
    _ = second[7]  # drawing another index first changes nothing
    np.testing.assert_array_equal(first[3].soft_input, second[3].soft_input)
    np.testing.assert_array_equal(first[3].target, second[3].target)
    assert not np.array_equal(first[3].soft_input, other_seed[3].soft_input)
    with pytest.raises(IndexError):
        first[100]
