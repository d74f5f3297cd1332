"""Synthetic non-contrast abdominal CT phantoms with real KiTS19 kidney and tumor shapes.

A phantom is built in two stages:

1. ``generate_phantom`` paints a tissue map (uint8, one ``Tissue`` code per voxel) of
   an abdomen at 1 mm: body outline, fat, muscle, spine, liver, spleen, stomach, bowel,
   vessels and, at the bottom, pelvis and bladder. The two kidneys and their tumors are
   a KiTS19 case's masks, rotated and scaled a little, placed either side of the spine.
   Each tumor gets a density class relative to its kidney.
2. ``render_hu`` turns a tissue map into Hounsfield units with per-tissue values,
   smooth texture, blur, optional simulated thick voxels, noise and a global intensity
   change. Training re-renders patches with fresh random parameters (domain
   randomization), so one tissue map yields many different-looking images.

Arrays are indexed [z, y, x] with z toward superior, y toward posterior and x toward
the patient's left (LPS), so the patient's right side is at low x.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np
from scipy import ndimage

from . import kits, shapes


class Tissue(enum.IntEnum):
    OUTSIDE = 0
    SKIN = 1
    SUBCUTANEOUS_FAT = 2
    MUSCLE = 3
    VISCERAL_FAT = 4
    PERIRENAL_FAT = 5
    CORTICAL_BONE = 6
    MARROW = 7
    DISC = 8
    LIVER = 9
    SPLEEN = 10
    BLOOD = 11
    BOWEL_WALL = 12
    BOWEL_FLUID = 13
    BOWEL_AIR = 14
    FECES = 15
    STOMACH_CONTENT = 16
    PANCREAS = 17
    URINE = 18
    BILE = 19
    CSF = 20
    TABLE = 21
    KIDNEY_RIGHT = 22
    KIDNEY_LEFT = 23
    CYST = 24  # simple renal cyst, a distractor that is part of the kidney label, not tumor
    TUMOR_FIRST = 32  # tumor number n has code TUMOR_FIRST + n


MAX_TUMORS = 16
# Cases with more tumor than this are left out: such tumors fill the abdomen and
# overlap the spine once placed.
MAX_CASE_TUMOR_ML = 300.0
TISSUE_CODES = 64

# HU ranges (low, high) drawn uniformly per rendering. Kidney and tumor values are set
# per phantom in TumorInfo and Phantom.kidney_hu instead.
TISSUE_HU_RANGES = {
    Tissue.OUTSIDE: (-1024.0, -1000.0),
    Tissue.SKIN: (10.0, 60.0),
    Tissue.SUBCUTANEOUS_FAT: (-125.0, -80.0),
    Tissue.MUSCLE: (35.0, 65.0),
    # Up to -60 HU: mesenteric fat with vessels and stranding below the voxel size.
    Tissue.VISCERAL_FAT: (-125.0, -60.0),
    Tissue.PERIRENAL_FAT: (-120.0, -60.0),
    Tissue.CORTICAL_BONE: (350.0, 900.0),
    Tissue.MARROW: (120.0, 300.0),
    Tissue.DISC: (60.0, 120.0),
    Tissue.LIVER: (40.0, 70.0),
    Tissue.SPLEEN: (35.0, 55.0),
    Tissue.BLOOD: (20.0, 50.0),
    Tissue.BOWEL_WALL: (25.0, 55.0),
    Tissue.BOWEL_FLUID: (-5.0, 25.0),
    Tissue.BOWEL_AIR: (-1000.0, -850.0),
    Tissue.FECES: (-100.0, 60.0),
    Tissue.STOMACH_CONTENT: (0.0, 45.0),
    Tissue.PANCREAS: (25.0, 50.0),
    Tissue.URINE: (-5.0, 15.0),
    Tissue.BILE: (-5.0, 25.0),
    Tissue.CSF: (0.0, 20.0),
    Tissue.TABLE: (50.0, 300.0),
    Tissue.CYST: (0.0, 20.0),
}

# Standard deviation (HU) of the smooth texture added to each tissue.
TEXTURE_HU = {
    Tissue.SUBCUTANEOUS_FAT: 8.0, Tissue.VISCERAL_FAT: 20.0, Tissue.PERIRENAL_FAT: 10.0,
    Tissue.MUSCLE: 5.0, Tissue.LIVER: 4.0, Tissue.SPLEEN: 4.0, Tissue.MARROW: 40.0,
    Tissue.CORTICAL_BONE: 80.0, Tissue.BOWEL_FLUID: 6.0, Tissue.FECES: 60.0,
    Tissue.STOMACH_CONTENT: 10.0, Tissue.PANCREAS: 6.0,
}
KIDNEY_TEXTURE_HU = 3.0
TUMOR_TEXTURE_HU = 3.0

# Soft tissues that touch or face the kidneys on real scans. An "isodense context"
# rendering (see draw_render_params) sets each of them near the kidney's own HU, so that
# a network cannot find the kidney by its density alone. On real non-contrast CT,
# kidney, muscle, bowel wall and unopacified vessels differ by a few HU. The first demo
# weights labelled any tissue between 0 and 35 HU as kidney.
CONTEXT_SOFT_TISSUES = (
    Tissue.SKIN, Tissue.MUSCLE, Tissue.LIVER, Tissue.SPLEEN, Tissue.BLOOD, Tissue.BOWEL_WALL,
    Tissue.BOWEL_FLUID, Tissue.STOMACH_CONTENT, Tissue.PANCREAS, Tissue.URINE, Tissue.BILE,
)
# Offsets (HU) from the mean kidney HU for those tissues in an isodense-context rendering.
CONTEXT_DELTA_HU = (-20.0, 35.0)

KIDNEY_HU_RANGE = (10.0, 40.0)
# Density classes: tumor HU minus the HU of its kidney.
TUMOR_CLASS_DELTA_HU = {
    "isodense": (-10.0, 10.0),
    "hypodense": (-40.0, -15.0),
    "hyperdense": (15.0, 40.0),
}
TUMOR_CLASSES = tuple(TUMOR_CLASS_DELTA_HU)

_BONE = (Tissue.CORTICAL_BONE, Tissue.MARROW, Tissue.DISC)
_BODY_WALL = (Tissue.OUTSIDE, Tissue.SKIN, Tissue.SUBCUTANEOUS_FAT, Tissue.TABLE)


def _allowed(*tissues) -> np.ndarray:
    table = np.zeros(256, bool)
    table[[int(t) for t in tissues]] = True
    return table


def _allowed_except(*tissues) -> np.ndarray:
    table = np.ones(256, bool)
    table[[int(t) for t in tissues]] = False
    return table


_FAT_ONLY = _allowed(Tissue.VISCERAL_FAT)
# A cyst may replace kidney and the fat around it, never a tumor, bone or bowel.
_CYST_ALLOWED = _allowed(Tissue.KIDNEY_RIGHT, Tissue.KIDNEY_LEFT, Tissue.PERIRENAL_FAT, Tissue.VISCERAL_FAT)
_NOT_BONE_OR_WALL = _allowed_except(*_BONE, *_BODY_WALL)


@dataclasses.dataclass
class TumorInfo:
    """One tumor in a phantom."""

    code: int  # tissue code, TUMOR_FIRST + n
    kind: str  # "isodense", "hypodense" or "hyperdense"
    delta_hu: float  # tumor HU minus kidney HU
    side: str  # "right" or "left"
    source: str  # "kits" (in place in its KiTS case) or "inserted"
    volume_ml: float
    protruded_fraction: float  # fraction of the tumor outside the closed kidney outline


# Exophytic tumors have at least this share of their volume outside the kidney they
# were inserted into, endophytic ones at most the second.
EXOPHYTIC_MIN_OUTSIDE = 0.5
ENDOPHYTIC_MAX_OUTSIDE = 0.1


def placement(protruded_fraction: float) -> str:
    """Name a tumor's placement from the share of it outside its kidney."""
    if protruded_fraction >= EXOPHYTIC_MIN_OUTSIDE:
        return "exophytic"
    if protruded_fraction <= ENDOPHYTIC_MAX_OUTSIDE:
        return "endophytic"
    return "mixed"


def kidney_region(tissues: np.ndarray) -> np.ndarray:
    """Kidney label of a tissue map: parenchyma, cysts and tumors."""
    return ((tissues == Tissue.KIDNEY_RIGHT) | (tissues == Tissue.KIDNEY_LEFT) | (tissues == Tissue.CYST)
            | (tissues >= Tissue.TUMOR_FIRST))


@dataclasses.dataclass
class Phantom:
    """A tissue map with its kidney and tumor densities; see render_hu for images."""

    tissues: np.ndarray  # uint8 [z, y, x], Tissue codes
    kidney_hu: dict  # "right"/"left" -> HU
    tumors: list[TumorInfo]
    seed: int
    case_id: str

    @property
    def kidney_mask(self) -> np.ndarray:
        """Kidney including tumors and cysts."""
        return kidney_region(self.tissues)

    @property
    def tumor_mask(self) -> np.ndarray:
        return self.tissues >= Tissue.TUMOR_FIRST

    def label_map(self) -> np.ndarray:
        """Return uint8 labels: 0 background, 1 kidney, 2 tumor."""
        labels = self.kidney_mask.astype(np.uint8)
        labels[self.tumor_mask] = 2
        return labels


@dataclasses.dataclass
class RenderParams:
    """Random appearance of one rendering; draw with draw_render_params."""

    tissue_hu: np.ndarray  # float32 [TISSUE_CODES]
    texture_hu: np.ndarray  # float32 [TISSUE_CODES]
    blur_sigma_mm: tuple[float, float, float]
    thick_voxel_mm: tuple[float, float, float] | None  # simulate coarser acquisition, or None
    noise_sigma_hu: float
    noise_correlation_mm: float
    scale: float
    offset_hu: float


def draw_render_params(phantom: Phantom, rng: np.random.Generator, randomize_organs: bool = True,
                       noise_range: tuple[float, float] = (5.0, 25.0),
                       isodense_context_probability: float = 0.0) -> RenderParams:
    """Draw tissue HU values and image degradations for one rendering of phantom.

    Kidney and tumor HU stay as stored in the phantom, so tumor density classes hold
    in every rendering. Only the global scale and offset shift them, both together.
    With isodense_context_probability, a rendering draws every tissue of
    CONTEXT_SOFT_TISSUES at the mean kidney HU plus an offset from CONTEXT_DELTA_HU,
    and the kidney's texture between 2 and 8 HU. With 0 (the default) no extra random
    numbers are drawn, so renderings for a given seed stay as they were.
    """
    tissue_hu = np.zeros(TISSUE_CODES, np.float32)
    for tissue, (low, high) in TISSUE_HU_RANGES.items():
        tissue_hu[tissue] = rng.uniform(low, high) if randomize_organs else 0.5 * (low + high)
    tissue_hu[Tissue.KIDNEY_RIGHT] = phantom.kidney_hu["right"]
    tissue_hu[Tissue.KIDNEY_LEFT] = phantom.kidney_hu["left"]
    for tumor in phantom.tumors:
        tissue_hu[tumor.code] = phantom.kidney_hu[tumor.side] + tumor.delta_hu

    texture = np.zeros(TISSUE_CODES, np.float32)
    for tissue, amplitude in TEXTURE_HU.items():
        texture[tissue] = amplitude * (rng.uniform(0.5, 1.5) if randomize_organs else 1.0)
    texture[Tissue.KIDNEY_RIGHT] = texture[Tissue.KIDNEY_LEFT] = KIDNEY_TEXTURE_HU
    texture[Tissue.TUMOR_FIRST:] = TUMOR_TEXTURE_HU
    if isodense_context_probability > 0 and rng.uniform() < isodense_context_probability:
        kidney_mean = 0.5 * (phantom.kidney_hu["right"] + phantom.kidney_hu["left"])
        for tissue in CONTEXT_SOFT_TISSUES:
            tissue_hu[tissue] = kidney_mean + rng.uniform(*CONTEXT_DELTA_HU)
        texture[Tissue.KIDNEY_RIGHT] = texture[Tissue.KIDNEY_LEFT] = rng.uniform(2.0, 8.0)

    in_plane = rng.uniform(0.4, 1.3)
    blur = (rng.uniform(0.4, 1.8), in_plane, in_plane)
    thick = None
    if rng.uniform() < 0.5:
        thick_in_plane = rng.uniform(1.5, 3.0)
        thick = (rng.uniform(1.5, 5.0), thick_in_plane, thick_in_plane)
    return RenderParams(
        tissue_hu=tissue_hu,
        texture_hu=texture,
        blur_sigma_mm=blur,
        thick_voxel_mm=thick,
        noise_sigma_hu=rng.uniform(*noise_range),
        noise_correlation_mm=rng.uniform(0.0, 0.8),
        # Scanners and reconstruction kernels differ in calibration by tens of HU, so
        # the networks should not rely on absolute values.
        scale=rng.uniform(0.9, 1.1),
        offset_hu=rng.uniform(-20.0, 20.0),
    )


def render_hu(tissues: np.ndarray, params: RenderParams, rng: np.random.Generator,
              noise_free: bool = False) -> np.ndarray:
    """Render a tissue map (or a crop of one) to float32 HU.

    noise_free skips texture, blur, thick voxels, noise and the global intensity change,
    which leaves each tissue at exactly its table value.
    """
    hu = params.tissue_hu[tissues]
    if noise_free:
        return hu

    # Texture: a smooth field with a wavelength of roughly 10 mm, scaled per tissue.
    coarse = [max(2, n // 10) for n in tissues.shape]
    field = rng.standard_normal(coarse).astype(np.float32)
    field = ndimage.zoom(field, [n / c for n, c in zip(tissues.shape, coarse)], order=1, grid_mode=True,
                         mode="nearest")[tuple(slice(0, n) for n in tissues.shape)]
    hu += params.texture_hu[tissues] * field

    hu = ndimage.gaussian_filter(hu, params.blur_sigma_mm, mode="nearest")
    if params.thick_voxel_mm is not None:
        hu = _simulate_thick_voxels(hu, params.thick_voxel_mm)

    noise = rng.standard_normal(tissues.shape).astype(np.float32)
    if params.noise_correlation_mm > 0.3:
        noise = ndimage.gaussian_filter(noise, params.noise_correlation_mm)
        noise /= max(float(noise.std()), 1e-6)
    hu += params.noise_sigma_hu * noise
    return hu * params.scale + params.offset_hu


def _simulate_thick_voxels(hu: np.ndarray, voxel_mm: tuple[float, float, float]) -> np.ndarray:
    """Average over boxes of voxel_mm and interpolate back, as when a coarse scan is resampled to 1 mm."""
    averaged = ndimage.uniform_filter(hu, size=[max(1, int(round(v))) for v in voxel_mm], mode="nearest")
    coarse_shape = [max(2, int(round(n / v))) for n, v in zip(hu.shape, voxel_mm)]
    coarse = ndimage.zoom(averaged, [c / n for c, n in zip(coarse_shape, hu.shape)], order=1, grid_mode=True,
                          mode="nearest")
    fine = ndimage.zoom(coarse, [n / c for n, c in zip(hu.shape, coarse.shape)], order=1, grid_mode=True,
                        mode="nearest")
    out = np.empty_like(hu)
    region = tuple(slice(0, min(a, b)) for a, b in zip(hu.shape, fine.shape))
    out[...] = hu
    out[region] = fine[region]
    return out


def normalize_hu(hu: np.ndarray, window=(-90.0, 210.0)) -> np.ndarray:
    """Clip HU to window and map it linearly to [-1, 1]."""
    low, high = window
    centre, half_width = 0.5 * (low + high), 0.5 * (high - low)
    return ((np.clip(hu, low, high) - centre) / half_width).astype(np.float32)


# --- Morphology with distance transforms (fast for large radii) ---


def dilate(mask: np.ndarray, radius_mm: float) -> np.ndarray:
    return ndimage.distance_transform_edt(~mask) <= radius_mm


def erode(mask: np.ndarray, radius_mm: float) -> np.ndarray:
    return ndimage.distance_transform_edt(mask) > radius_mm


def close(mask: np.ndarray, radius_mm: float) -> np.ndarray:
    pad = int(np.ceil(radius_mm)) + 1
    padded = np.pad(mask, pad)
    return erode(dilate(padded, radius_mm), radius_mm)[pad:-pad, pad:-pad, pad:-pad]


# --- Phantom generation ---


@dataclasses.dataclass
class PhantomOptions:
    """Choices for generate_phantom beyond the seed."""

    # Probability of inserting an extra tumor from another case into the kidney that
    # has no KiTS tumor.
    insert_probability: float = 0.5
    # Kind of the first tumor, or None to draw it. The demo case uses "isodense".
    first_tumor_kind: str | None = None
    # Probability that a tumor is isodense; the rest split evenly between hypo and hyper.
    isodense_probability: float = 0.5
    # Probability that an inserted tumor is exophytic; the rest are endophytic.
    exophytic_probability: float = 0.6
    # Probability that a kidney gets one or two cysts from the KiTS23 shapes.
    cyst_probability: float = 0.35
    shape_zyx: tuple[int, int, int] | None = None  # default: drawn to fit the body


def _draw_tumor_kind(rng: np.random.Generator, options: PhantomOptions, first: bool) -> str:
    if first and options.first_tumor_kind is not None:
        if options.first_tumor_kind not in TUMOR_CLASS_DELTA_HU:
            raise ValueError(f"unknown tumor kind {options.first_tumor_kind!r}; use one of {TUMOR_CLASSES}")
        return options.first_tumor_kind
    if rng.uniform() < options.isodense_probability:
        return "isodense"
    return "hypodense" if rng.uniform() < 0.5 else "hyperdense"


def _case_with_two_kidneys(library: kits.ShapeLibrary, rng: np.random.Generator, case_index: int | None):
    cases = [c for c in library.two_kidney_cases
             if (c.labels == kits.TUMOR).sum() <= MAX_CASE_TUMOR_ML * 1000]
    if not cases:
        raise ValueError("no KiTS case with two separate kidneys in the shape library")
    if case_index is None:
        case_index = int(rng.integers(len(cases)))
    return cases[case_index % len(cases)]


class _Body:
    """Body geometry of one phantom, in voxel coordinates of its volume."""

    def __init__(self, shape, centre_y, centre_x, half_width, half_depth_front, half_depth_back):
        self.shape = shape
        self.cy, self.cx = centre_y, centre_x
        self.half_width = half_width
        self.front = half_depth_front
        self.back = half_depth_back
        self.y = (np.arange(shape[1], dtype=np.float32) - centre_y)[None, :, None]
        self.x = (np.arange(shape[2], dtype=np.float32) - centre_x)[None, None, :]

    def outline(self, shrink_side: float, shrink_front: float, shrink_back: float, exponent_back: float = 2.6):
        """Return a 2D (1, Y, X) mask of the body outline moved inward by the given mm."""
        ax = self.half_width - shrink_side
        front = self.front - shrink_front
        back = self.back - shrink_back
        if min(ax, front, back) <= 1:
            return np.zeros((1,) + self.shape[1:], bool)
        y, x = self.y, self.x
        front_part = (x / ax) ** 2 + (y / front) ** 2 <= 1.0
        back_part = np.abs(x / ax) ** exponent_back + np.abs(y / back) ** exponent_back <= 1.0
        return np.where(y < 0, front_part, back_part)


def generate_phantom(seed: int, library: kits.ShapeLibrary, options: PhantomOptions | None = None,
                     case_index: int | None = None) -> Phantom:
    """Build one phantom tissue map; the same seed, library and options give the same phantom."""
    options = options or PhantomOptions()
    rng = np.random.default_rng(seed)
    case = _case_with_two_kidneys(library, rng, case_index)

    # Kidneys and tumors of the case, turned and scaled a little.
    matrix = shapes.random_rotation_scale(rng, 8.0, (0.9, 1.1))
    case_labels = shapes.transform_mask(case.labels, matrix, order=0)
    box = kits.bounding_box(case_labels > 0, 2)
    case_labels = case_labels[box]
    sides = {s.side: s for s in kits.split_kidney_sides(kits.KitsCase(case.case_id, case_labels, case.source_spacing_mm))}
    if set(sides) != {"right", "left"}:
        raise ValueError(f"{case.case_id}: kidneys did not separate after the random transform")

    # Body size must hold the kidneys with room for muscle and fat lateral to them.
    pair_depth, pair_width = case_labels.shape[1], case_labels.shape[2]
    half_width = max(rng.uniform(140.0, 175.0), pair_width / 2 + rng.uniform(35.0, 60.0))
    half_front = rng.uniform(95.0, 135.0)
    spine_y = rng.uniform(10.0, 30.0)  # vertebral body centre, posterior of the body centre
    kidney_y = spine_y + rng.uniform(-5.0, 15.0)  # centre of the kidney pair's box
    half_back = max(rng.uniform(95.0, 125.0), kidney_y + pair_depth / 2 + rng.uniform(35.0, 55.0))
    if options.shape_zyx is not None:
        shape = tuple(options.shape_zyx)
    else:
        shape = (256, int(np.ceil((half_front + half_back + 40) / 16)) * 16,
                 int(np.ceil((2 * half_width + 24) / 16)) * 16)
    centre_y = half_front + (shape[1] - half_front - half_back) / 2
    centre_x = shape[2] / 2
    body = _Body(shape, centre_y, centre_x, half_width, half_front, half_back)
    tissues = np.zeros(shape, np.uint8)

    # Kidney pair placement: centre of the pair's box at the midline, at L1-L2.
    kidney_centre_z = shape[0] * rng.uniform(0.55, 0.72)
    pair_corner = (int(round(kidney_centre_z - case_labels.shape[0] / 2)),
                   int(round(centre_y + kidney_y - pair_depth / 2)),
                   int(round(centre_x - pair_width / 2 + rng.uniform(-8, 8))))
    kidney_top = pair_corner[0] + case_labels.shape[0]
    kidney_bottom = pair_corner[0]
    kidney_back = pair_corner[1] + pair_depth  # posterior edge, voxel index

    _paint_table(tissues, body, rng)
    _paint_body_wall(tissues, body, rng, kidney_back)
    _paint_posterior_muscles(tissues, body, rng, spine_y, kidney_top)
    _paint_abdominal_organs(tissues, body, rng, spine_y, kidney_top, kidney_bottom, sides, pair_corner)
    _paint_bowel(tissues, body, rng, spine_y, kidney_top, pair_corner, case_labels.shape)
    _paint_pelvis(tissues, body, rng, kidney_bottom)
    _paint_vessels(tissues, body, rng, spine_y, kidney_bottom, sides, pair_corner)
    kidney_hu, tumors = _paint_kidneys_and_tumors(tissues, rng, case_labels, pair_corner, sides, library,
                                                  case.case_id, options)
    _paint_spine(tissues, body, rng, spine_y, kidney_top)
    _paint_ribs(tissues, body, rng, kidney_centre_z)
    return Phantom(tissues, kidney_hu, tumors, seed, case.case_id)


def _paint_table(tissues, body: _Body, rng):
    if rng.uniform() > 0.6:
        return
    gap = rng.uniform(3.0, 20.0)
    thickness = rng.uniform(3.0, 8.0)
    y_table = body.cy + body.back + gap
    x = body.x[0, 0]
    curve = y_table + 0.0015 * x ** 2 * rng.uniform(0.0, 1.0)
    yy = np.arange(tissues.shape[1])[:, None]
    plate = (yy >= curve[None, :]) & (yy < curve[None, :] + thickness) & (np.abs(x)[None, :] < body.half_width * 1.1)
    tissues[:, plate] = Tissue.TABLE


def _paint_body_wall(tissues, body: _Body, rng, kidney_back):
    tissues[:, body.outline(0, 0, 0)[0]] = Tissue.SKIN
    tissues[:, body.outline(2, 2, 2)[0]] = Tissue.SUBCUTANEOUS_FAT
    fat_side, fat_front, fat_back = rng.uniform(8, 40), rng.uniform(8, 35), rng.uniform(8, 30)
    tissues[:, body.outline(fat_side, fat_front, fat_back)[0]] = Tissue.MUSCLE
    wall = rng.uniform(7, 15)
    # The peritoneal cavity reaches back to just behind the kidneys.
    cavity_back = (kidney_back - body.cy) + rng.uniform(3, 10)
    cavity = body.outline(fat_side + wall, fat_front + wall, body.back - cavity_back, exponent_back=2.2)
    tissues[:, cavity[0]] = Tissue.VISCERAL_FAT


def _extrude_ellipse(tissues, body: _Body, z_range, centre_yx_fn, radii_yx_fn, value, allowed=None):
    """Paint an ellipse on each slice of z_range; centre and radii may depend on z."""
    z0, z1 = max(0, int(z_range[0])), min(tissues.shape[0], int(z_range[1]))
    yy = np.arange(tissues.shape[1], dtype=np.float32)[:, None]
    xx = np.arange(tissues.shape[2], dtype=np.float32)[None, :]
    for z in range(z0, z1):
        cy, cx = centre_yx_fn(z)
        ry, rx = radii_yx_fn(z)
        if ry <= 0 or rx <= 0:
            continue
        y_lo, y_hi = max(0, int(cy - ry - 1)), min(tissues.shape[1], int(cy + ry + 2))
        x_lo, x_hi = max(0, int(cx - rx - 1)), min(tissues.shape[2], int(cx + rx + 2))
        if y_lo >= y_hi or x_lo >= x_hi:
            continue
        inside = ((yy[y_lo:y_hi] - cy) / ry) ** 2 + ((xx[:, x_lo:x_hi] - cx) / rx) ** 2 <= 1.0
        region = tissues[z, y_lo:y_hi, x_lo:x_hi]
        if allowed is not None:
            inside &= allowed[region]
        region[inside] = value


def _paint_posterior_muscles(tissues, body: _Body, rng, spine_y, kidney_top):
    # Erector spinae either side of the spinous processes.
    for sign in (-1, 1):
        cx = body.cx + sign * rng.uniform(28, 40)
        cy = body.cy + spine_y + rng.uniform(40, 55)
        ry, rx = rng.uniform(22, 32), rng.uniform(24, 34)
        _extrude_ellipse(tissues, body, (0, tissues.shape[0]), lambda z: (cy, cx), lambda z: (ry, rx),
                         Tissue.MUSCLE, _allowed(Tissue.SUBCUTANEOUS_FAT, Tissue.VISCERAL_FAT))
    # Psoas: from about T12 down, widening toward the pelvis.
    psoas_top = kidney_top - rng.uniform(20, 50)
    max_radius = rng.uniform(18, 30)
    for sign in (-1, 1):
        def centre(z, sign=sign):
            radius = _psoas_radius(z, psoas_top, max_radius)
            return body.cy + spine_y - 2, body.cx + sign * (20 + radius)

        _extrude_ellipse(tissues, body, (0, psoas_top), centre,
                         lambda z: (_psoas_radius(z, psoas_top, max_radius),) * 2,
                         Tissue.MUSCLE, _allowed(Tissue.VISCERAL_FAT))
    # Quadratus lumborum behind the lower kidney.
    for sign in (-1, 1):
        cx = body.cx + sign * rng.uniform(60, 80)
        cy = body.cy + spine_y + rng.uniform(25, 35)
        ry, rx = rng.uniform(10, 14), rng.uniform(16, 22)
        _extrude_ellipse(tissues, body, (0, psoas_top), lambda z: (cy, cx), lambda z: (ry, rx), Tissue.MUSCLE,
                         _allowed(Tissue.VISCERAL_FAT))


def _psoas_radius(z, top, max_radius):
    return float(np.clip((top - z) / 120.0, 0.0, 1.0) * max_radius + 4.0) if z < top else 0.0


def _paste_blob(tissues, centre_zyx, radii, value, rng, allowed, roughness=0.15, rotation_deg=15.0):
    rotation = shapes.rotation_matrix(tuple(np.deg2rad(rng.uniform(-rotation_deg, rotation_deg, 3))))
    blob = shapes.ellipsoid(radii, rotation, roughness, rng)
    half = np.asarray(blob.shape) // 2
    corner = tuple(int(round(c)) - h for c, h in zip(centre_zyx, half))
    shapes.paste_mask(tissues, blob, corner, value, allowed)
    return blob, corner


def _paint_abdominal_organs(tissues, body: _Body, rng, spine_y, kidney_top, kidney_bottom, sides, pair_corner):
    top = tissues.shape[0]
    right_kidney_centre = _side_centre(sides["right"], pair_corner)
    left_kidney_centre = _side_centre(sides["left"], pair_corner)

    # Liver: a large right lobe reaching down to about the right kidney's middle, and a
    # smaller left lobe in front.
    liver_bottom = right_kidney_centre[0] + rng.uniform(-15, 30)
    rz = max(40.0, (top + 40 - liver_bottom) / 2)
    right_lobe = (liver_bottom + rz, body.cy - rng.uniform(0, 0.15) * body.front,
                  body.cx - rng.uniform(0.4, 0.55) * body.half_width)
    _paste_blob(tissues, right_lobe, (rz, rng.uniform(0.6, 0.8) * body.front, rng.uniform(0.4, 0.55) * body.half_width),
                Tissue.LIVER, rng, _FAT_ONLY)
    left_lobe = (top - rng.uniform(10, 40), body.cy - 0.45 * body.front, body.cx + rng.uniform(0.0, 0.2) * body.half_width)
    _paste_blob(tissues, left_lobe, (rng.uniform(35, 55), rng.uniform(25, 40), rng.uniform(40, 70)),
                Tissue.LIVER, rng, _FAT_ONLY)
    # Gallbladder under the liver.
    if rng.uniform() < 0.6:
        gb = (liver_bottom + rng.uniform(5, 25), body.cy - 0.4 * body.front, body.cx - 0.3 * body.half_width)
        _paste_blob(tissues, gb, (rng.uniform(20, 35), rng.uniform(12, 18), rng.uniform(12, 18)), Tissue.BILE, rng,
                    _allowed(Tissue.VISCERAL_FAT, Tissue.LIVER), roughness=0.05, rotation_deg=30)

    # Spleen: left, posterior, beside the upper pole of the left kidney.
    spleen = (left_kidney_centre[0] + rng.uniform(25, 55), body.cy + rng.uniform(0.1, 0.35) * body.back,
              body.cx + rng.uniform(0.55, 0.7) * body.half_width)
    _paste_blob(tissues, spleen, (rng.uniform(35, 55), rng.uniform(30, 45), rng.uniform(18, 28)), Tissue.SPLEEN, rng,
                _FAT_ONLY, rotation_deg=25)

    # Stomach: left upper quadrant in front, with an air cap at the anterior side.
    stomach_centre = (top - rng.uniform(20, 50), body.cy - rng.uniform(0.2, 0.45) * body.front,
                      body.cx + rng.uniform(0.2, 0.45) * body.half_width)
    radii = (rng.uniform(35, 55), rng.uniform(25, 40), rng.uniform(30, 45))
    blob, corner = _paste_blob(tissues, stomach_centre, tuple(r + 3 for r in radii), Tissue.BOWEL_WALL, rng, _FAT_ONLY)
    inner = ndimage.binary_erosion(blob, iterations=3)
    shapes.paste_mask(tissues, inner, corner, Tissue.STOMACH_CONTENT, _allowed(Tissue.BOWEL_WALL))
    air_level = rng.uniform(0.2, 0.7) * inner.shape[1]
    air = inner & (np.arange(inner.shape[1])[None, :, None] < air_level)
    shapes.paste_mask(tissues, air, corner, Tissue.BOWEL_AIR, _allowed(Tissue.STOMACH_CONTENT))

    # Pancreas: a lobulated band in front of the spine and left kidney.
    if kidney_top > kidney_bottom:
        pancreas_z = (kidney_top + kidney_bottom) / 2 + rng.uniform(0, 25)
        points = shapes.tube_points(
            np.array([pancreas_z - 10, body.cy + spine_y - 45, body.cx - 25]),
            np.array([pancreas_z + 10, body.cy + spine_y - 25, body.cx + 70]), 3.0)
        shapes.paint_tube(tissues, points, rng.uniform(8, 13), Tissue.PANCREAS, _FAT_ONLY)


def _side_centre(side: kits.KidneySide, pair_corner) -> np.ndarray:
    centre = np.asarray(ndimage.center_of_mass(side.labels > 0))
    return centre + np.asarray(side.offset_mm) + np.asarray(pair_corner)


def _paint_bowel(tissues, body: _Body, rng, spine_y, kidney_top, pair_corner, pair_shape):
    cavity_low = np.array([0.0, body.cy - body.front + 20, body.cx - body.half_width + 25])
    cavity_high = np.array([kidney_top + 10, body.cy + spine_y - 25, body.cx + body.half_width - 25])
    allowed = _allowed(Tissue.VISCERAL_FAT)

    # Colon: ascending on the right, descending on the left, transverse in front.
    left_x = pair_corner[2] + pair_shape[2] + rng.uniform(-10, 5)
    right_x = pair_corner[2] + rng.uniform(-5, 10)
    colon_y = body.cy + rng.uniform(-0.1, 0.15) * body.front
    transverse_z = kidney_top - rng.uniform(10, 50)
    corners = [np.array([0, colon_y, right_x]), np.array([transverse_z, colon_y, right_x]),
               np.array([transverse_z + 10, body.cy - 0.6 * body.front, body.cx]),
               np.array([transverse_z, colon_y, left_x]), np.array([0, colon_y, left_x])]
    colon = np.concatenate([shapes.tube_points(a, b, 4.0) for a, b in zip(corners[:-1], corners[1:])])
    colon += rng.normal(0, 4, colon.shape)
    _paint_bowel_segment(tissues, colon, rng.uniform(14, 24), rng, allowed, colon=True)

    # Small bowel loops fill most of the front and lower abdomen.
    for _ in range(int(rng.integers(40, 70))):
        start = rng.uniform(cavity_low, cavity_high)
        path = shapes.random_walk(rng, start, rng.standard_normal(3), int(rng.integers(15, 50)), 4.0, 0.35,
                                  cavity_low, cavity_high)
        _paint_bowel_segment(tissues, path, rng.uniform(8, 16), rng, allowed, colon=False)

    # Mesenteric vessels.
    for _ in range(int(rng.integers(3, 8))):
        start = rng.uniform(cavity_low, cavity_high)
        path = shapes.random_walk(rng, start, rng.standard_normal(3), 25, 3.0, 0.2, cavity_low, cavity_high)
        shapes.paint_tube(tissues, path, rng.uniform(1.5, 3.0), Tissue.BLOOD, allowed)


def _paint_bowel_segment(tissues, path, radius, rng, allowed, colon: bool):
    wall = rng.uniform(1.5, 3.0)
    content_kind = rng.choice(["feces", "air", "fluid"], p=[0.6, 0.25, 0.15]) if colon else \
        rng.choice(["fluid", "air", "collapsed", "mixed"], p=[0.35, 0.15, 0.3, 0.2])
    shapes.paint_tube(tissues, path, radius, Tissue.BOWEL_WALL, allowed)
    if content_kind == "collapsed":
        return
    inner = max(1.0, radius - wall)
    content = {"feces": Tissue.FECES, "air": Tissue.BOWEL_AIR, "fluid": Tissue.BOWEL_FLUID,
               "mixed": Tissue.BOWEL_FLUID}[content_kind]
    shapes.paint_tube(tissues, path, inner, content, _allowed(Tissue.BOWEL_WALL))
    if content_kind in ("mixed", "feces"):
        # Air bubbles (feces) or an air-fluid level at the anterior side (mixed).
        for point in path[:: max(1, len(path) // 12)]:
            if content_kind == "feces":
                bubble = point + rng.uniform(-inner, inner, 3) * 0.6
                shapes.paint_tube(tissues, bubble[None], rng.uniform(1.5, 4.0), Tissue.BOWEL_AIR, _allowed(Tissue.FECES))
            else:
                cap = point - np.array([0, inner * 0.5, 0])
                shapes.paint_tube(tissues, cap[None], inner * 0.5, Tissue.BOWEL_AIR, _allowed(Tissue.BOWEL_FLUID))


def _paint_pelvis(tissues, body: _Body, rng, kidney_bottom):
    iliac_top = kidney_bottom - rng.uniform(40, 70)
    if iliac_top <= 10:
        return
    bone_allowed = _allowed(Tissue.VISCERAL_FAT, Tissue.MUSCLE, Tissue.BOWEL_WALL, Tissue.BOWEL_FLUID,
                            Tissue.BOWEL_AIR, Tissue.FECES, Tissue.SUBCUTANEOUS_FAT)
    for sign in (-1, 1):
        # An iliac wing: a thin curved plate, drawn as a flattened, tilted ellipsoid shell.
        centre = (iliac_top - rng.uniform(35, 50), body.cy + rng.uniform(0.1, 0.3) * body.back,
                  body.cx + sign * rng.uniform(0.45, 0.6) * body.half_width)
        radii = (rng.uniform(40, 55), rng.uniform(8, 11), rng.uniform(35, 50))
        rotation = shapes.rotation_matrix((np.deg2rad(sign * rng.uniform(25, 45)), 0.0, 0.0))
        outer = shapes.ellipsoid(radii, rotation)
        inner = shapes.ellipsoid(tuple(r - 3 for r in radii), rotation)
        half = np.asarray(outer.shape) // 2
        corner = tuple(int(round(c)) - h for c, h in zip(centre, half))
        shapes.paste_mask(tissues, outer, corner, Tissue.CORTICAL_BONE, bone_allowed)
        shapes.paste_mask(tissues, inner, corner, Tissue.MARROW, _allowed(Tissue.CORTICAL_BONE))

    # Bladder, when the volume reaches low enough.
    bladder_z = iliac_top - rng.uniform(90, 120)
    if bladder_z > -20:
        _paste_blob(tissues, (bladder_z, body.cy - 0.35 * body.front, body.cx),
                    (rng.uniform(30, 45), rng.uniform(30, 45), rng.uniform(35, 55)), Tissue.URINE, rng,
                    _allowed(Tissue.VISCERAL_FAT, Tissue.BOWEL_WALL, Tissue.BOWEL_FLUID, Tissue.BOWEL_AIR,
                             Tissue.FECES), roughness=0.05)


def _paint_vessels(tissues, body: _Body, rng, spine_y, kidney_bottom, sides, pair_corner):
    allowed = _allowed(Tissue.VISCERAL_FAT, Tissue.BOWEL_WALL, Tissue.BOWEL_FLUID, Tissue.BOWEL_AIR, Tissue.FECES,
                       Tissue.PANCREAS, Tissue.MUSCLE)
    top = tissues.shape[0]
    bifurcation = kidney_bottom - rng.uniform(30, 70)
    aorta_radius = rng.uniform(8, 13)
    aorta_y = body.cy + spine_y - rng.uniform(28, 36)
    aorta_x = body.cx + rng.uniform(5, 18)
    ivc_y = aorta_y + rng.uniform(-4, 4)
    ivc_x = body.cx - rng.uniform(18, 30)
    for (x, radius) in ((aorta_x, aorta_radius), (ivc_x, rng.uniform(9, 14))):
        y = aorta_y if x == aorta_x else ivc_y
        _extrude_ellipse(tissues, body, (max(0, bifurcation), top), lambda z, y=y, x=x: (y, x),
                         lambda z, r=radius: (r * 0.85, r), Tissue.BLOOD, allowed)
    # Common iliac vessels diverge below the bifurcation.
    for sign in (-1, 1):
        if bifurcation > 0:
            points = shapes.tube_points(np.array([bifurcation, aorta_y, body.cx]),
                                        np.array([bifurcation - 120, aorta_y + 25, body.cx + sign * 70]), 3.0)
            shapes.paint_tube(tissues, points, aorta_radius * 0.7, Tissue.BLOOD, allowed)
    # Renal veins and arteries from each hilum to the IVC and aorta.
    for name, side in sides.items():
        centre = _side_centre(side, pair_corner)
        target_x = ivc_x if name == "right" else aorta_x
        points = shapes.tube_points(centre + np.array([0, -8, 0]), np.array([centre[0] + 5, aorta_y, target_x]), 3.0)
        shapes.paint_tube(tissues, points, rng.uniform(3.0, 5.0), Tissue.BLOOD, allowed)


def _tumor_protruded_fraction(parenchyma: np.ndarray, tumor: np.ndarray) -> float:
    # The kidney outline is the parenchyma closed with an 8 mm ball, so a tumor that
    # only fills a notch of the kidney counts as inside.
    outline = close(parenchyma, 8.0)
    return float((tumor & ~outline).sum() / max(1, tumor.sum()))


def _paint_kidneys_and_tumors(tissues, rng, case_labels, pair_corner, sides, library: kits.ShapeLibrary,
                              case_id, options: PhantomOptions):
    base_hu = rng.uniform(*KIDNEY_HU_RANGE)
    kidney_hu = {"right": base_hu + rng.uniform(-4, 4), "left": base_hu + rng.uniform(-4, 4)}
    tumors: list[TumorInfo] = []
    soft = _NOT_BONE_OR_WALL

    for name, side in sides.items():
        corner = tuple(p + o for p, o in zip(pair_corner, side.offset_mm))
        labels = side.labels
        parenchyma = labels == kits.KIDNEY
        whole = labels > 0

        # Perirenal fat around the kidney, and renal sinus fat in the hilum.
        margin = rng.uniform(4, 14)
        pad = int(np.ceil(margin)) + 1
        padded = np.pad(whole, pad)
        fat = dilate(padded, margin)
        shapes.paste_mask(tissues, fat, tuple(c - pad for c in corner), Tissue.PERIRENAL_FAT,
                          _allowed(*[t for t in Tissue if t not in (*_BONE, *_BODY_WALL, Tissue.MUSCLE,
                                                                      Tissue.BLOOD)]))
        sinus = close(whole, rng.uniform(5, 9)) & ~whole
        shapes.paste_mask(tissues, sinus, corner, Tissue.PERIRENAL_FAT, soft)

        code = Tissue.KIDNEY_RIGHT if name == "right" else Tissue.KIDNEY_LEFT
        shapes.paste_mask(tissues, whole, corner, code, soft)

        # Tumors already in the KiTS case, in place.
        components, count = ndimage.label(labels == kits.TUMOR)
        for k in range(1, count + 1):
            tumor = components == k
            if tumor.sum() < kits.MIN_TUMOR_VOXELS or len(tumors) >= MAX_TUMORS:
                # Tiny fragments stay kidney so that no unlabeled tumor remains.
                continue
            tumors.append(_add_tumor(tissues, tumor, corner, name, "kits", parenchyma, rng, options, len(tumors)))

        # An inserted tumor from another case, on a kidney without a KiTS tumor.
        if count == 0 and library.tumors and rng.uniform() < options.insert_probability and len(tumors) < MAX_TUMORS:
            inserted = _insert_tumor_shape(parenchyma, library, case_id, rng, options.exophytic_probability)
            if inserted is not None:
                tumor_mask, tumor_corner = inserted
                full_corner = tuple(c + t for c, t in zip(corner, tumor_corner))
                local_parenchyma = shapes.crop_with_padding(parenchyma, tumor_corner, tumor_mask.shape, False)
                tumors.append(_add_tumor(tissues, tumor_mask, full_corner, name, "inserted", local_parenchyma, rng,
                                         options, len(tumors)))

        # Cysts: water-density distractors that bulge like a tumor but are not one.
        if library.cysts and rng.uniform() < options.cyst_probability:
            for _ in range(int(rng.integers(1, 3))):
                inserted = _insert_tumor_shape(parenchyma, library, case_id, rng, 0.5, library.cysts,
                                               library.cyst_case_ids, (0.005, 0.08))
                if inserted is not None:
                    cyst_mask, cyst_corner = inserted
                    full_corner = tuple(c + t for c, t in zip(corner, cyst_corner))
                    shapes.paste_mask(tissues, cyst_mask, full_corner, Tissue.CYST, _CYST_ALLOWED)
    return kidney_hu, tumors


def _add_tumor(tissues, tumor, corner, side, source, parenchyma, rng, options, number):
    code = int(Tissue.TUMOR_FIRST + number)
    kind = _draw_tumor_kind(rng, options, number == 0)
    delta = rng.uniform(*TUMOR_CLASS_DELTA_HU[kind])
    shapes.paste_mask(tissues, tumor, corner, code, _NOT_BONE_OR_WALL)
    fraction = _tumor_protruded_fraction(parenchyma, tumor)
    return TumorInfo(code, kind, float(delta), side, source, float(tumor.sum()) / 1000.0, fraction)


def _insert_tumor_shape(parenchyma, library: kits.ShapeLibrary, case_id, rng, exophytic_probability=0.6,
                        shapes_list=None, shape_case_ids=None, volume_range=(0.03, 0.3), tries=12):
    """Return (mask, corner in the kidney crop) for a tumor (or cyst) from another case, or None.

    The shape is turned and scaled, then placed either exophytic (at least
    EXOPHYTIC_MIN_OUTSIDE of it outside the kidney) or endophytic (at most
    ENDOPHYTIC_MAX_OUTSIDE outside). Placements that miss the rule are redrawn up to
    tries times; None when none fits.
    """
    shapes_list = library.tumors if shapes_list is None else shapes_list
    shape_case_ids = library.tumor_case_ids if shape_case_ids is None else shape_case_ids
    choices = [i for i, c in enumerate(shape_case_ids) if c != case_id]
    if not choices:
        return None
    tumor = shapes_list[int(rng.choice(choices))]
    kidney_volume = parenchyma.sum()
    # Keep inserted shapes well below the kidney volume.
    target_volume = rng.uniform(*volume_range) * kidney_volume
    scale = float(np.clip((target_volume / max(1, tumor.sum())) ** (1 / 3), 0.3, 1.2))
    moved = shapes.transform_mask(tumor, shapes.random_rotation_scale(rng, 180.0, (scale, scale), 0.1))
    if moved.sum() < kits.MIN_TUMOR_VOXELS:
        return None
    moved, _ = shapes.trim_to_mask(moved, 1)
    radius = (3 * moved.sum() / (4 * np.pi)) ** (1 / 3)

    exophytic = rng.uniform() < exophytic_probability
    if exophytic:
        # Centres just outside the surface, so that at least half the tumor protrudes.
        candidates = np.argwhere(dilate(parenchyma, 0.3 * radius) & ~parenchyma)
    else:
        candidates = np.argwhere(erode(parenchyma, 0.6 * radius))
    if len(candidates) == 0:
        return None
    half = np.asarray(moved.shape) // 2
    for _ in range(tries):
        centre = candidates[int(rng.integers(len(candidates)))]
        corner = tuple(int(c) - int(h) for c, h in zip(centre, half))
        local = shapes.crop_with_padding(parenchyma, corner, moved.shape, False)
        fraction = _tumor_protruded_fraction(local, moved)
        if (fraction >= EXOPHYTIC_MIN_OUTSIDE) if exophytic else (fraction <= ENDOPHYTIC_MAX_OUTSIDE):
            return moved, corner
    return None


def _paint_spine(tissues, body: _Body, rng, spine_y, kidney_top):
    rx, ry = rng.uniform(19, 26), rng.uniform(14, 19)
    cy = body.cy + spine_y
    cx = body.cx
    level_height = rng.uniform(32, 40)
    disc_height = rng.uniform(7, 11)
    phase = rng.uniform(0, level_height)
    bone = _allowed_except(Tissue.OUTSIDE, Tissue.TABLE, Tissue.SKIN)
    for z in range(tissues.shape[0]):
        in_disc = ((z + phase) % level_height) < disc_height
        body_tissue = Tissue.DISC if in_disc else Tissue.CORTICAL_BONE
        _extrude_ellipse(tissues, body, (z, z + 1), lambda _z: (cy, cx), lambda _z: (ry, rx), body_tissue, bone)
        if not in_disc:
            _extrude_ellipse(tissues, body, (z, z + 1), lambda _z: (cy, cx), lambda _z: (ry - 2.5, rx - 2.5),
                             Tissue.MARROW, bone)
        # Posterior arch: pedicles, lamina and spinous process around the canal.
        _extrude_ellipse(tissues, body, (z, z + 1), lambda _z: (cy + ry + 14, cx), lambda _z: (13, 14),
                         Tissue.CORTICAL_BONE, bone)
        _extrude_ellipse(tissues, body, (z, z + 1), lambda _z: (cy + ry + 12, cx), lambda _z: (8, 9), Tissue.CSF, bone)
        if not in_disc:
            _extrude_ellipse(tissues, body, (z, z + 1), lambda _z: (cy + ry + 35, cx), lambda _z: (18, 4),
                             Tissue.CORTICAL_BONE, bone)
            # Transverse processes, present on part of each level.
            if ((z + phase) % level_height) < disc_height + 10:
                for sign in (-1, 1):
                    _extrude_ellipse(tissues, body, (z, z + 1), lambda _z, s=sign: (cy + ry + 12, cx + s * 35),
                                     lambda _z: (5, 22), Tissue.CORTICAL_BONE, bone)


def _paint_ribs(tissues, body: _Body, rng, kidney_centre_z):
    """Lower ribs: bony arcs in the body wall above about the kidney centre."""
    allowed = _allowed(Tissue.MUSCLE, Tissue.SUBCUTANEOUS_FAT, Tissue.VISCERAL_FAT, Tissue.LIVER, Tissue.SPLEEN,
                       Tissue.PERIRENAL_FAT)
    spacing = rng.uniform(22, 30)
    z = kidney_centre_z + rng.uniform(-10, 20)
    angles = np.linspace(0.15 * np.pi, 0.85 * np.pi, 60)  # from the side round to the back
    while z < tissues.shape[0] + 40:
        depth_in = rng.uniform(12, 25)
        for sign in (-1, 1):
            ys = body.cy + (body.back - depth_in) * np.sin(angles)
            xs = body.cx + sign * (body.half_width - depth_in) * np.cos(angles - 0.1)
            # Ribs run down from the spine toward the side and the front.
            zs = z - 55 * np.abs(angles - 0.5 * np.pi) / (0.35 * np.pi)
            points = np.stack([zs, ys, xs], 1)
            points = np.concatenate([shapes.tube_points(a, b, 2.0) for a, b in zip(points[:-1], points[1:])])
            shapes.paint_tube(tissues, points, rng.uniform(3.5, 5.0), Tissue.CORTICAL_BONE, allowed)
        z += spacing


def sample_patch(phantom: Phantom, centre_zyx, size: int, rng: np.random.Generator,
                 params: RenderParams | None = None, margin: int = 8):
    """Render one cubic patch of side `size` around centre_zyx.

    Returns (normalized image [size]^3 float32, kidney mask, tumor mask). The patch is
    rendered with a margin so blur and thick-voxel simulation see real neighbours.
    """
    params = params or draw_render_params(phantom, rng)
    corner = tuple(int(c) - size // 2 for c in centre_zyx)
    big_corner = tuple(c - margin for c in corner)
    big_size = (size + 2 * margin,) * 3
    tissues = shapes.crop_with_padding(phantom.tissues, big_corner, big_size, fill=Tissue.OUTSIDE)
    hu = render_hu(tissues, params, rng)
    inner = (slice(margin, margin + size),) * 3
    tissues = tissues[inner]
    kidney = kidney_region(tissues)
    tumor = tissues >= Tissue.TUMOR_FIRST
    return normalize_hu(hu[inner]), kidney, tumor


def save_phantom(phantom: Phantom, path) -> None:
    """Write a phantom to a compressed .npz file."""
    tumors = np.array([[t.code, TUMOR_CLASSES.index(t.kind), t.delta_hu, 0 if t.side == "right" else 1,
                        0 if t.source == "kits" else 1, t.volume_ml, t.protruded_fraction] for t in phantom.tumors],
                      dtype=np.float64).reshape(-1, 7)
    np.savez_compressed(path, tissues=phantom.tissues, tumors=tumors, seed=phantom.seed, case_id=phantom.case_id,
                        kidney_hu=np.array([phantom.kidney_hu["right"], phantom.kidney_hu["left"]]))


def load_phantom(path) -> Phantom:
    """Read a phantom written by save_phantom."""
    with np.load(path) as data:
        tumors = [TumorInfo(int(row[0]), TUMOR_CLASSES[int(row[1])], float(row[2]),
                            "right" if row[3] == 0 else "left", "kits" if row[4] == 0 else "inserted",
                            float(row[5]), float(row[6])) for row in data["tumors"]]
        hu = data["kidney_hu"]
        return Phantom(data["tissues"], {"right": float(hu[0]), "left": float(hu[1])}, tumors, int(data["seed"]),
                       str(data["case_id"]))
