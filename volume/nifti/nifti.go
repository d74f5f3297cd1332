// Package nifti reads and writes NIfTI-1 single files (.nii and .nii.gz) as
// [volume.Volume] and [volume.Mask] values in LPS patient space.
//
// # Geometry
//
// The voxel order of a NIfTI file matches package volume: i fastest, then j, then k,
// so voxel (i, j, k) of the file is voxel (i, j, k) of the volume and no data is
// reordered. Orientation lives in the grid. The patient transform is taken from the
// sform when sform_code > 0, else from the qform when qform_code > 0, else from pixdim
// alone (see [Header.Grid]). NIfTI coordinates are RAS, and the grid's are LPS: x and
// y change sign. Spatial units are converted to mm.
//
// # Reading
//
// [Read] and [ReadMask] accept uint8, int8, int16, uint16, int32, uint32, float32 and
// float64 voxels in either byte order. Gzip compression is detected from the first
// two bytes, not from the file name. The gzip stream is read to the end of its member
// so that its CRC-32 is checked, and a damaged stream is reported as a gzip error.
// Stored values are scaled by scl_slope and scl_inter unless the slope is 0 or not
// finite, following nibabel 5. [Read] rejects a volume with NaN or infinite values,
// and its error gives their count and the index of the first, so that no later step
// runs on them.
// [ReadHeader] reads the header alone, and [ReadMaskOnGrid] rejects a file whose
// header grid differs from the expected one before it reads any voxel.
// Errors wrap [ErrMalformed] when the file breaks the format and [ErrUnsupported]
// when it is valid NIfTI that this package does not handle, such as NIfTI-2, a 4D
// series or complex voxels.
//
// # Writing
//
// [WriteVolume] and [WriteMask] write little-endian single files, gzip-compressed when
// the name ends in ".gz". The file appears at its path only once it is complete,
// because it is written to a temporary file in the same folder, synced and renamed.
package nifti

import "errors"

var (
	// ErrMalformed marks a file that breaks the NIfTI-1 format or that is truncated.
	ErrMalformed = errors.New("malformed NIfTI-1 file")
	// ErrUnsupported marks a valid NIfTI file that uses a feature this package does
	// not read, such as a datatype or more than three dimensions.
	ErrUnsupported = errors.New("unsupported NIfTI file")
	// ErrGridMismatch marks a valid file whose header grid differs from the grid that
	// the caller of [ReadMaskOnGrid] expects.
	ErrGridMismatch = errors.New("the header's grid differs from the expected grid")
)
