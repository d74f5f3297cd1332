import numpy as np
import pytest

from protrude_train import phantoms

# Shorter volumes keep the test fast; kidneys that stick out are clipped.
OPTIONS = dict(shape_zyx=(192, 288, 384))


def test_phantom_same_seed_same_volume(small_library):
    first = phantoms.generate_phantom(11, small_library, phantoms.PhantomOptions(**OPTIONS))
    second = phantoms.generate_phantom(11, small_library, phantoms.PhantomOptions(**OPTIONS))
    other = phantoms.generate_phantom(12, small_library, phantoms.PhantomOptions(**OPTIONS))
    assert np.array_equal(first.tissues, second.tissues)
    assert first.tumors == second.tumors
    assert first.kidney_hu == second.kidney_hu
    assert not np.array_equal(first.tissues, other.tissues)

    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    patch_a = phantoms.sample_patch(first, (96, 140, 190), 32, rng_a)
    patch_b = phantoms.sample_patch(second, (96, 140, 190), 32, rng_b)
    for a, b in zip(patch_a, patch_b):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", phantoms.TUMOR_CLASSES)
def test_phantom_tumor_hu_class(small_library, kind):
    phantom = phantoms.generate_phantom(21, small_library, phantoms.PhantomOptions(first_tumor_kind=kind, **OPTIONS))
    assert phantom.tumors, "phantom has no tumor"
    tumor = phantom.tumors[0]
    assert tumor.kind == kind
    low, high = phantoms.TUMOR_CLASS_DELTA_HU[kind]

    # The stored contrast and the rendered contrast both fall in the class range.
    assert low <= tumor.delta_hu <= high
    rng = np.random.default_rng(0)
    params = phantoms.draw_render_params(phantom, rng)
    hu = phantoms.render_hu(phantom.tissues, params, rng, noise_free=True)
    kidney_code = phantoms.Tissue.KIDNEY_RIGHT if tumor.side == "right" else phantoms.Tissue.KIDNEY_LEFT
    tumor_hu = float(hu[phantom.tissues == tumor.code].mean())
    kidney_hu = float(hu[phantom.tissues == kidney_code].mean())
    assert low <= tumor_hu - kidney_hu <= high
    assert phantoms.KIDNEY_HU_RANGE[0] - 4 <= kidney_hu <= phantoms.KIDNEY_HU_RANGE[1] + 4


def test_isodense_context_rendering(small_library):
    phantom = phantoms.generate_phantom(21, small_library, phantoms.PhantomOptions(**OPTIONS))
    kidney_mean = 0.5 * (phantom.kidney_hu["right"] + phantom.kidney_hu["left"])
    low, high = phantoms.CONTEXT_DELTA_HU
    context = [int(t) for t in phantoms.CONTEXT_SOFT_TISSUES]

    always = phantoms.draw_render_params(phantom, np.random.default_rng(3), isodense_context_probability=1.0)
    offsets = always.tissue_hu[context] - kidney_mean
    assert np.all((offsets >= low) & (offsets <= high)), offsets
    # Kidney and tumor densities, and so the tumor classes, do not move.
    assert always.tissue_hu[phantoms.Tissue.KIDNEY_RIGHT] == np.float32(phantom.kidney_hu["right"])
    for tumor in phantom.tumors:
        assert always.tissue_hu[tumor.code] == np.float32(phantom.kidney_hu[tumor.side] + tumor.delta_hu)

    # Probability 0 draws nothing extra: the renderings of a seed stay as before.
    plain = phantoms.draw_render_params(phantom, np.random.default_rng(3))
    zero = phantoms.draw_render_params(phantom, np.random.default_rng(3), isodense_context_probability=0.0)
    assert np.array_equal(plain.tissue_hu, zero.tissue_hu)
    assert plain.offset_hu == zero.offset_hu


def test_phantom_anatomy_in_lps(small_library):
    phantom = phantoms.generate_phantom(31, small_library, phantoms.PhantomOptions(**OPTIONS))
    tissues = phantom.tissues
    body = np.argwhere(tissues[:, ::4, ::4] != phantoms.Tissue.OUTSIDE).mean(0) * [1, 4, 4]
    liver = np.argwhere(tissues[:, ::2, ::2] == phantoms.Tissue.LIVER).mean(0) * [1, 2, 2]
    spleen = np.argwhere(tissues[:, ::2, ::2] == phantoms.Tissue.SPLEEN).mean(0) * [1, 2, 2]
    right = np.argwhere(tissues == phantoms.Tissue.KIDNEY_RIGHT).mean(0)
    left = np.argwhere(tissues == phantoms.Tissue.KIDNEY_LEFT).mean(0)
    # x grows toward the patient's left, y toward posterior.
    assert liver[2] < body[2] < spleen[2]
    assert right[2] < body[2] < left[2]
    assert right[1] > body[1], "right kidney must lie posterior of the body centre"
    assert left[1] > body[1], "left kidney must lie posterior of the body centre"


def test_phantom_labels_match_masks(small_library):
    phantom = phantoms.generate_phantom(41, small_library, phantoms.PhantomOptions(**OPTIONS))
    labels = phantom.label_map()
    assert np.array_equal(labels == 2, phantom.tumor_mask)
    assert np.array_equal(labels > 0, phantom.kidney_mask)
    assert set(np.unique(labels)) <= {0, 1, 2}


def test_phantom_save_load_round_trip(small_library, tmp_path):
    phantom = phantoms.generate_phantom(51, small_library, phantoms.PhantomOptions(**OPTIONS))
    phantoms.save_phantom(phantom, tmp_path / "p.npz")
    loaded = phantoms.load_phantom(tmp_path / "p.npz")
    assert np.array_equal(loaded.tissues, phantom.tissues)
    assert loaded.kidney_hu == pytest.approx(phantom.kidney_hu)
    assert [t.kind for t in loaded.tumors] == [t.kind for t in phantom.tumors]
    assert [t.delta_hu for t in loaded.tumors] == pytest.approx([t.delta_hu for t in phantom.tumors])


def test_normalize_hu_window():
    hu = np.array([-1000.0, -90.0, 60.0, 210.0, 3000.0])
    assert phantoms.normalize_hu(hu).tolist() == pytest.approx([-1.0, -1.0, 0.0, 1.0, 1.0])
