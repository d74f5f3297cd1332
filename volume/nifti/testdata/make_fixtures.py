"""Write the small NIfTI-1 fixtures in this folder and expected.json.

Run from this folder with Debian's python3 and nibabel 5:
    /usr/bin/python3 make_fixtures.py

Every file is written by nibabel, sometimes with header bytes patched afterwards, and
the expected affine and voxel values are what nibabel itself reads back. Two cases
differ from nibabel on purpose, so their expected affines are written out here.
nibabel ignores xyzt_units, but the Go reader converts the metres of units_metre.nii
to mm. With both transform codes 0, as in pixdim_only.nii, nibabel centres the
volume, but the Go reader puts voxel 0 at the origin.
"""
import gzip
import json
import struct

import nibabel as nib
import numpy as np

SHAPE = (4, 3, 2)
rng = np.random.default_rng(20240601)

# A rotation of 30 degrees about z, then a flip of the third axis, with 0.7/0.8/2.5 mm.
angle = np.deg2rad(30)
rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
OBLIQUE = np.eye(4)
OBLIQUE[:3, :3] = rot @ np.diag([0.7, 0.8, -2.5])
OBLIQUE[:3, 3] = [-120.25, 35.5, 410.0]

LAS = np.array([[-1.5, 0, 0, 80.0], [0, 1.5, 0, -60.0], [0, 0, 3.0, -200.0], [0, 0, 0, 1]])

expected = {}


def save(name, data, endianness='<', qform=None, qcode=0, sform=None, scode=0):
    header = nib.Nifti1Header(endianness=endianness)
    header.set_data_dtype(data.dtype)
    image = nib.Nifti1Image(data, None, header=header)
    image.header.set_qform(qform, code=qcode)
    image.header.set_sform(sform, code=scode)
    nib.save(image, name)


def patch(name, offset, fmt, value):
    """Overwrite one header field in place, in the file's byte order."""
    opener = gzip.open if name.endswith('.gz') else open
    with opener(name, 'rb') as f:
        raw = bytearray(f.read())
    order = '<' if struct.unpack('<i', raw[0:4])[0] == 348 else '>'
    struct.pack_into(order + fmt, raw, offset, *value)
    if name.endswith('.gz'):
        # mtime 0 keeps the compressed bytes the same from one run to the next.
        with open(name, 'wb') as f, gzip.GzipFile(fileobj=f, mode='wb', mtime=0) as z:
            z.write(bytes(raw))
    else:
        with open(name, 'wb') as f:
            f.write(bytes(raw))


def record(name, affine=None):
    image = nib.load(name)
    data = np.asarray(image.get_fdata(), dtype=np.float64)
    expected[name] = {
        'affine_ras_mm': (image.affine if affine is None else affine).tolist(),
        'values': data.ravel(order='F').tolist(),
    }


def ints(dtype, low, high):
    return rng.integers(low, high, size=SHAPE, endpoint=True).astype(dtype)


# One file per datatype, alternating byte order, all with the same oblique affine.
for dtype, low, high, order in [
    (np.uint8, 0, 255, '<'),
    (np.int8, -128, 127, '>'),
    (np.int16, -32768, 32767, '<'),
    (np.uint16, 0, 65535, '>'),
    (np.int32, -2**31, 2**31 - 1, '>'),
    (np.uint32, 0, 2**32 - 1, '<'),
]:
    name = f'{np.dtype(dtype).name}_{"le" if order == "<" else "be"}.nii'
    save(name, ints(dtype, low, high), order, OBLIQUE, 1, OBLIQUE, 2)
    record(name)
for dtype, order in [(np.float32, '>'), (np.float64, '<')]:
    name = f'{np.dtype(dtype).name}_{"le" if order == "<" else "be"}.nii'
    save(name, rng.normal(0, 500, size=SHAPE).astype(dtype), order, OBLIQUE, 1, OBLIQUE, 2)
    record(name)

# int16 with scl_slope 0.5 and scl_inter -1024, gzip-compressed.
save('scaled_int16.nii.gz', ints(np.int16, -2000, 4000), '<', LAS, 1, LAS, 1)
patch('scaled_int16.nii.gz', 112, 'ff', (0.5, -1024.0))
record('scaled_int16.nii.gz')

# qform only, with qfac -1 from the flipped third axis.
save('qform_only.nii', ints(np.int16, -1000, 1000), '<', OBLIQUE, 1, None, 0)
record('qform_only.nii')

# sform and a different qform: the sform must win.
save('sform_over_qform.nii.gz', ints(np.int16, -1000, 1000), '>', OBLIQUE, 1, LAS, 2)
record('sform_over_qform.nii.gz')

# Spatial units in metres: pixdim and offsets are in metres, the reader converts to mm.
metres = LAS.copy()
metres[:3, :] /= 1000
save('units_metre.nii', ints(np.int16, -1000, 1000), '<', metres, 1, metres, 2)
patch('units_metre.nii', 123, 'B', (1,))
record('units_metre.nii', affine=LAS)

# No transform at all: pixdim scaling only.
save('pixdim_only.nii', ints(np.uint8, 0, 9), '<', None, 0, None, 0)
patch('pixdim_only.nii', 76, '4f', (1.0, 0.9, 1.1, 4.0))
record('pixdim_only.nii', affine=np.diag([0.9, 1.1, 4.0, 1.0]))

# A 4D header whose fourth dimension is 1.
save('dim4_of_1.nii', ints(np.int16, -1000, 1000).reshape(SHAPE + (1,)), '<', LAS, 1, LAS, 1)
record('dim4_of_1.nii')

# A uint16 label file with labels 0, 1 and 2, as some KiTS19 masks are stored.
save('labels_uint16.nii.gz', ints(np.uint16, 0, 2), '<', LAS, 1, LAS, 1)
record('labels_uint16.nii.gz')

# pixdim (2, -2, 5) with an sform of the same signs and no qform: the reader folds the
# negative step into the direction of the second axis, as nibabel's affine does.
NEGATIVE_Y = np.array([[2.0, 0, 0, -30.0], [0, -2.0, 0, 40.0], [0, 0, 5.0, -100.0], [0, 0, 0, 1]])
save('negative_pixdim_sform.nii', ints(np.int16, -1000, 1000), '<', None, 0, NEGATIVE_Y, 1)
patch('negative_pixdim_sform.nii', 76, '4f', (1.0, 2.0, -2.0, 5.0))
record('negative_pixdim_sform.nii')

# The same pixdim with both codes 0. The Go reader puts voxel 0 at the origin with
# steps of pixdim along x, y and z, so the second axis points to -y. nibabel agrees
# about that axis and the third, but centres the volume and flips x.
save('negative_pixdim_only.nii', ints(np.int16, -1000, 1000), '<', None, 0, None, 0)
patch('negative_pixdim_only.nii', 76, '4f', (1.0, 2.0, -2.0, 5.0))
record('negative_pixdim_only.nii', affine=np.diag([2.0, -2.0, 5.0, 1.0]))

# The same pixdim in a rotated qform with no sform. nibabel takes the absolute value of
# pixdim when it loads the header, and the Go reader ignores the sign in a qform too.
rotated = np.eye(4)
rotated[:3, :3] = rot @ np.diag([2.0, 2.0, 5.0])
rotated[:3, 3] = [12.0, -8.0, 60.0]
save('negative_pixdim_qform.nii', ints(np.int16, -1000, 1000), '<', rotated, 1, None, 0)
patch('negative_pixdim_qform.nii', 80, '3f', (2.0, -2.0, 5.0))
record('negative_pixdim_qform.nii')

# scl_slope 0 with scl_inter 100: a slope of 0 means the values are not scaled at all.
save('slope_zero_int16.nii', ints(np.int16, -1000, 1000), '<', LAS, 1, LAS, 2)
patch('slope_zero_int16.nii', 112, 'ff', (0.0, 100.0))
record('slope_zero_int16.nii')

# float32 with one NaN, one +Inf and one -Inf. The Go reader rejects this file, so it
# has no entry in expected.json; reader_test.go asserts the error instead.
bad = rng.normal(0, 500, size=SHAPE).astype(np.float32)
bad[1, 2, 0] = np.nan
bad[3, 0, 1] = np.inf
bad[0, 1, 1] = -np.inf
save('nan_inf_float32.nii', bad, '<', LAS, 1, LAS, 2)

with open('expected.json', 'w') as f:
    json.dump(expected, f, indent=1)
