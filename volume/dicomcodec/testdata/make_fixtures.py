"""Write the compressed frames in this folder and expected.json.

Run from this folder with Debian's python3, pydicom 2.3, DCMTK 3.6.7 (apt dcmtk)
and GDCM 3.0 (apt libgdcm-tools):
    /usr/bin/python3 make_fixtures.py

Three synthetic 12 x 20 images with made-up values and no patient data are
compressed with DCMTK's and GDCM's encoders. Each frame is saved without its DICOM
wrapping, and expected.json lists its pixel description and the values that
gdcmconv --raw decodes from it, row by row. For lossless encodings the script
also checks that those values equal the original samples.
"""
import json
import os
import subprocess
import tempfile

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_pixel_data_frame
from pydicom.uid import ExplicitVRLittleEndian

SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7'
ROWS, COLUMNS = 12, 20


def pattern(low, high):
    """Returns a ROWS x COLUMNS image with a ramp, an edge and a few spikes."""
    y, x = np.mgrid[0:ROWS, 0:COLUMNS]
    image = low + (high - low) * (0.6 * x / (COLUMNS - 1) + 0.3 * y / (ROWS - 1))
    image[3:9, 5:12] = high - (high - low) * 0.05
    image[0, 0], image[ROWS - 1, COLUMNS - 1], image[5, 15] = low, high, low
    return np.round(image)


# name: (values, BitsAllocated, BitsStored, PixelRepresentation)
SOURCES = {
    'signed16': (pattern(-1200, 3000), 16, 16, 1),
    'unsigned12': (pattern(0, 4095), 16, 12, 0),
    'unsigned8': (pattern(0, 255), 8, 8, 0),
}

# file: (source, command, syntax, lossless, max difference from the referee)
FIXTURES = {
    'rle_signed16.rle': ('signed16', ['dcmcrle'], '1.2.840.10008.1.2.5', True, 0),
    'rle_unsigned8.rle': ('unsigned8', ['dcmcrle'], '1.2.840.10008.1.2.5', True, 0),
    'jpeg_lossless_sv1_signed16.jpg': ('signed16', ['dcmcjpeg', '+e1'], '1.2.840.10008.1.2.4.70', True, 0),
    'jpeg_lossless_sv5_unsigned12.jpg': ('unsigned12', ['dcmcjpeg', '+el', '+sv', '5'], '1.2.840.10008.1.2.4.57', True, 0),
    'jpeg_lossless_sv1_unsigned8.jpg': ('unsigned8', ['dcmcjpeg', '+e1'], '1.2.840.10008.1.2.4.70', True, 0),
    'jpeg_extended_unsigned12.jpg': ('unsigned12', ['dcmcjpeg', '+ee', '+q', '85'], '1.2.840.10008.1.2.4.51', False, 0),
    # Go's image/jpeg and libjpeg round the inverse DCT differently.
    'jpeg_baseline_unsigned8.jpg': ('unsigned8', ['dcmcjpeg', '+eb', '+q', '85'], '1.2.840.10008.1.2.4.50', False, 1),
    'jpegls_lossless_signed16.jls': ('signed16', ['dcmcjpls', '+el'], '1.2.840.10008.1.2.4.80', True, 0),
    'jpegls_near2_unsigned12.jls': ('unsigned12', ['dcmcjpls', '+en', '+md', '2'], '1.2.840.10008.1.2.4.81', False, 0),
    'j2k_lossless_signed16.j2k': ('signed16', ['gdcmconv', '--j2k'], '1.2.840.10008.1.2.4.90', True, 0),
    # GDCM 3.0.21's --lossy with -q 30, or with -r 4 on an image this small, writes
    # codestreams far from the original, which the check in main rejects.
    'j2k_lossy_signed16.j2k': ('signed16', ['gdcmconv', '--j2k', '--lossy', '-r', '2'], '1.2.840.10008.1.2.4.91', False, 0),
}


def write_source(path, values, bits_allocated, bits_stored, pixel_representation):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = '2.25.77' + str(bits_stored) + str(pixel_representation)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'OT'
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = pixel_representation
    dtype = {(8, 0): '<u1', (16, 0): '<u2', (16, 1): '<i2'}[(bits_allocated, pixel_representation)]
    ds.PixelData = values.astype(dtype).tobytes()
    ds.save_as(path, write_like_original=False)


def main():
    expected = []
    with tempfile.TemporaryDirectory() as work:
        for name, (values, bits_allocated, bits_stored, pixel_representation) in SOURCES.items():
            write_source(os.path.join(work, name + '.dcm'), values, bits_allocated, bits_stored, pixel_representation)

        for file, (source, command, syntax, lossless, max_difference) in FIXTURES.items():
            encoded = os.path.join(work, file + '.dcm')
            decoded = os.path.join(work, file + '.raw.dcm')
            subprocess.run(command + [os.path.join(work, source + '.dcm'), encoded], check=True)
            subprocess.run(['gdcmconv', '--raw', encoded, decoded], check=True)

            ds = pydicom.dcmread(encoded)
            assert ds.file_meta.TransferSyntaxUID == syntax, (file, ds.file_meta.TransferSyntaxUID)
            frames = list(generate_pixel_data_frame(ds.PixelData, 1))
            with open(file, 'wb') as f:
                f.write(frames[0])

            values = pydicom.dcmread(decoded).pixel_array.astype(int)
            original = SOURCES[source][0]
            if lossless:
                assert (values == original).all(), file
            else:
                # A lossy result must still resemble the image: a broken encoder
                # would otherwise make the reference.
                error = np.abs(values - original).mean() / (original.max() - original.min())
                assert error < 0.02, (file, error)
            expected.append({
                'file': file,
                'syntax': syntax,
                'encoder': ' '.join(command),
                'rows': int(ds.Rows),
                'columns': int(ds.Columns),
                'bitsAllocated': int(ds.BitsAllocated),
                'bitsStored': int(ds.BitsStored),
                'pixelRepresentation': int(ds.PixelRepresentation),
                'lossless': lossless,
                'maxDifference': max_difference,
                'values': values.ravel().tolist(),
            })
    # One fixture per line keeps the file small and its diffs readable.
    with open('expected.json', 'w') as f:
        f.write('[\n' + ',\n'.join(json.dumps(e) for e in expected) + '\n]\n')


main()
