"""Write the small synthetic DICOM files in this folder and expected.json.

Run from this folder with Debian's python3 and pydicom 2.3:
    /usr/bin/python3 make_fixtures.py

Every file is one 3×4 CT image with made-up values and no patient data. The
expected values are what pydicom returns from pixel_array with the modality LUT
(RescaleSlope, RescaleIntercept) applied, listed row by row.
"""
import json

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2'

# 12-bit signed samples, sign-extended to 16 bits as scanners store them.
STORED = np.array([[-2048, -1024, -1, 0], [1, 100, 1000, 2047], [-500, 7, -7, 1500]], dtype=np.int16)


def write(name, syntax, little_endian, implicit, slope, intercept):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = '2.25.1000' + str(len(name))
    meta.TransferSyntaxUID = syntax

    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = little_endian
    ds.is_implicit_VR = implicit
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'CT'
    ds.SeriesDescription = 'synthetic'
    ds.SeriesInstanceUID = '2.25.424242'
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [-10.5, 20.25, 300]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.8, 0.6]
    ds.SliceThickness = 2.5
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.Rows, ds.Columns = STORED.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 1
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.PixelData = STORED.astype('<i2' if little_endian else '>i2').tobytes()
    ds.save_as(name, write_like_original=False)

    back = pydicom.dcmread(name)
    return apply_modality_lut(back.pixel_array, back).astype(float).ravel().tolist()


expected = {
    'explicit_le.dcm': write('explicit_le.dcm', ExplicitVRLittleEndian, True, False, 1, -1024),
    'implicit_le.dcm': write('implicit_le.dcm', ImplicitVRLittleEndian, True, True, 0.5, -10),
    'explicit_be.dcm': write('explicit_be.dcm', ExplicitVRBigEndian, False, False, 2, 3),
}
with open('expected.json', 'w') as f:
    json.dump(expected, f, indent=1)
