"""Mask geometry helpers: placing crops, random rigid-plus-scale transforms, spheres and tubes.

All arrays are indexed [z, y, x] at 1 mm, so a voxel index is also a position in mm.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def clipped_boxes(shape: tuple[int, ...], corner: tuple[int, ...], size: tuple[int, ...]):
    """Return (target slices, source slices) for pasting a block of `size` at `corner`.

    The block may stick out of the target volume; the slices cover only the overlap.
    Returns None when there is no overlap.
    """
    target, source = [], []
    for n, c, s in zip(shape, corner, size):
        lo, hi = max(0, c), min(n, c + s)
        if lo >= hi:
            return None
        target.append(slice(lo, hi))
        source.append(slice(lo - c, hi - c))
    return tuple(target), tuple(source)


def paste_mask(volume: np.ndarray, mask: np.ndarray, corner: tuple[int, ...], value, allowed=None) -> None:
    """Set volume to value where mask is true, with mask's [0,0,0] at corner.

    allowed, when given, is a boolean lookup table over volume's values: only voxels
    whose current value v has allowed[v] true are overwritten.
    """
    boxes = clipped_boxes(volume.shape, corner, mask.shape)
    if boxes is None:
        return
    target, source = boxes
    region = volume[target]
    hit = mask[source]
    if allowed is not None:
        hit = hit & allowed[region]
    region[hit] = value


def crop_with_padding(volume: np.ndarray, corner: tuple[int, ...], size: tuple[int, ...], fill=0) -> np.ndarray:
    """Return the block of `size` at `corner`, filling the part outside the volume with fill."""
    out = np.full(size, fill, dtype=volume.dtype)
    boxes = clipped_boxes(volume.shape, corner, size)
    if boxes is not None:
        target, source = boxes
        out[source] = volume[target]
    return out


def rotation_matrix(angles_rad: tuple[float, float, float]) -> np.ndarray:
    """Return the rotation about the z, y and x axes (applied in that order) as a 3x3 matrix."""
    cz, sz = np.cos(angles_rad[0]), np.sin(angles_rad[0])
    cy, sy = np.cos(angles_rad[1]), np.sin(angles_rad[1])
    cx, sx = np.cos(angles_rad[2]), np.sin(angles_rad[2])
    # Index order is (z, y, x): a rotation "about z" turns the y-x plane.
    about_z = np.array([[1, 0, 0], [0, cz, -sz], [0, sz, cz]])
    about_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    about_x = np.array([[cx, -sx, 0], [sx, cx, 0], [0, 0, 1]])
    return about_x @ about_y @ about_z


def transform_mask(mask: np.ndarray, matrix: np.ndarray, order: int = 1) -> np.ndarray:
    """Apply a linear map (rotation times scale) about the mask's centre.

    The output box is large enough for the whole transformed mask. Binary masks are
    interpolated linearly and thresholded at 0.5 (order=1) or taken nearest (order=0).
    Label volumes with more than two values need order=0.
    """
    shape_in = np.asarray(mask.shape, dtype=np.float64)
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)]) * (shape_in - 1)
    centre_in = (shape_in - 1) / 2
    mapped = (corners - centre_in) @ matrix.T
    shape_out = np.ceil(mapped.max(0) - mapped.min(0)).astype(int) + 3
    centre_out = (shape_out - 1) / 2

    # affine_transform maps output coordinates to input coordinates.
    inverse = np.linalg.inv(matrix)
    offset = centre_in - inverse @ centre_out
    if order == 0:
        return ndimage.affine_transform(mask, inverse, offset, output_shape=tuple(shape_out), order=0)
    moved = ndimage.affine_transform(mask.astype(np.float32), inverse, offset,
                                     output_shape=tuple(shape_out), order=1)
    return moved >= 0.5


def random_rotation_scale(rng: np.random.Generator, max_angle_deg: float, scale_range: tuple[float, float],
                          anisotropy: float = 0.0) -> np.ndarray:
    """Draw a rotation with each angle in +-max_angle_deg, times a scale from scale_range.

    anisotropy > 0 scales each axis by an extra factor in [1 - anisotropy, 1 + anisotropy].
    """
    angles = np.deg2rad(rng.uniform(-max_angle_deg, max_angle_deg, size=3))
    scale = rng.uniform(*scale_range) * rng.uniform(1 - anisotropy, 1 + anisotropy, size=3)
    return rotation_matrix(tuple(angles)) @ np.diag(scale)


def trim_to_mask(mask: np.ndarray, margin: int = 1) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Crop a mask to its true voxels plus margin; return (crop, corner of the crop)."""
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if hits.size == 0:
            raise ValueError("trim_to_mask: mask has no true voxel")
        box.append(slice(max(0, hits[0] - margin), min(mask.shape[axis], hits[-1] + 1 + margin)))
    box = tuple(box)
    return mask[box], tuple(s.start for s in box)


def ball(radius: float) -> np.ndarray:
    """Return a boolean ball of the given radius in voxels, in a box of side 2*ceil(radius)+1."""
    r = int(np.ceil(radius))
    z, y, x = np.ogrid[-r:r + 1, -r:r + 1, -r:r + 1]
    return z * z + y * y + x * x <= radius * radius


def ellipsoid(radii: tuple[float, float, float], rotation: np.ndarray | None = None,
              roughness: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Return a boolean ellipsoid with semi-axes radii (z, y, x) in mm, centred in its box.

    rotation turns the semi-axes (a 3x3 matrix acting on (z, y, x) vectors).
    roughness > 0 scales the surface radius by 1 + roughness * f, where f is a smooth
    random field with values in about [-1.5, 1.5], which gives organ-like lumps.
    """
    matrix = np.eye(3) if rotation is None else np.asarray(rotation)
    # Half-extent of the rotated ellipsoid along each axis.
    half = np.sqrt(((matrix * np.asarray(radii)[None, :]) ** 2).sum(1)) * (1 + 1.5 * roughness)
    extent = np.ceil(half).astype(int) + 1
    z, y, x = np.ogrid[-extent[0]:extent[0] + 1, -extent[1]:extent[1] + 1, -extent[2]:extent[2] + 1]
    coords = [z.astype(np.float32), y.astype(np.float32), x.astype(np.float32)]
    inverse = matrix.T
    local = [inverse[i, 0] * coords[0] + inverse[i, 1] * coords[1] + inverse[i, 2] * coords[2] for i in range(3)]
    distance = np.sqrt((local[0] / radii[0]) ** 2 + (local[1] / radii[1]) ** 2 + (local[2] / radii[2]) ** 2)
    if roughness > 0:
        if rng is None:
            raise ValueError("ellipsoid: roughness needs an rng")
        field = smooth_field(rng, distance.shape, coarse=5)
        distance = distance / (1 + roughness * field)
    return distance <= 1.0


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], coarse: int = 6) -> np.ndarray:
    """Return a smooth random field over shape with values in about [-1.5, 1.5].

    Gaussian noise on a grid of `coarse` points per axis is interpolated linearly.
    """
    grid = rng.standard_normal((coarse,) * len(shape)).astype(np.float32)
    zoom = [s / coarse for s in shape]
    field = ndimage.zoom(grid, zoom, order=1, mode="nearest", grid_mode=True)
    field = field[tuple(slice(0, s) for s in shape)]
    return np.clip(field / 1.5, -1.5, 1.5)


def tube_points(start: np.ndarray, end: np.ndarray, step_mm: float) -> np.ndarray:
    """Return points from start to end spaced at most step_mm apart, both ends included."""
    length = float(np.linalg.norm(end - start))
    count = max(2, int(np.ceil(length / step_mm)) + 1)
    return start[None, :] + np.linspace(0.0, 1.0, count)[:, None] * (end - start)[None, :]


def random_walk(rng: np.random.Generator, start: np.ndarray, direction: np.ndarray, steps: int,
                step_mm: float, turn: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Return a smooth random path of `steps` points that stays inside the box [low, high].

    turn sets how much the direction changes per step (0: straight). A point that would
    leave the box reflects the direction on that axis.
    """
    points = [np.asarray(start, dtype=np.float64)]
    heading = np.asarray(direction, dtype=np.float64)
    heading /= np.linalg.norm(heading)
    for _ in range(steps - 1):
        heading = heading + turn * rng.standard_normal(3)
        heading /= np.linalg.norm(heading)
        nxt = points[-1] + step_mm * heading
        outside = (nxt < low) | (nxt > high)
        heading[outside] *= -1
        nxt = np.clip(points[-1] + step_mm * heading, low, high)
        points.append(nxt)
    return np.asarray(points)


def paint_tube(volume: np.ndarray, points: np.ndarray, radius: float, value, allowed=None) -> None:
    """Paint a ball of `radius` at each point, which makes a tube along a dense path."""
    sphere = ball(radius)
    half = sphere.shape[0] // 2
    for p in points:
        corner = tuple(int(round(c)) - half for c in p)
        paste_mask(volume, sphere, corner, value, allowed)
