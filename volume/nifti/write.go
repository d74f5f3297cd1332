package nifti

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unsafe"

	"protrude/internal/atomicfile"
	"protrude/volume"
)

// templateToleranceMM is the largest distance between corresponding voxel centres of
// a template's grid and the written grid at which the template's transforms are copied.
const templateToleranceMM = 1e-4

// writeChunkVoxels is the number of voxels converted to bytes per write call.
const writeChunkVoxels = 1 << 20

// WriteOptions controls the header of a written file and how it is committed.
type WriteOptions struct {
	// Description goes into the 80-byte descrip field. It is cut at 79 bytes, on a
	// UTF-8 character boundary, so the field stays NUL-terminated.
	Description string
	// Template supplies the transforms when it is not nil and its grid matches the
	// written grid (same size, every voxel centre within 1e-4 mm). Then qform_code,
	// sform_code, the quaternion, the offsets, the sform rows, pixdim[0..3] and the
	// spatial units are copied unchanged, so the output carries exactly the template's
	// affine. Otherwise both transforms are built from the grid, with sform_code 2
	// (aligned) and qform_code 1 (scanner).
	Template *Header
	// SkipSync renames the finished file into place without syncing it to the disk
	// first (atomicfile.File.CommitWithoutSync): other programs still never see a
	// partial file, but a power cut soon after may leave one. Only for output that can
	// be made again from its source; masks and sessions always sync.
	SkipSync bool
}

// WriteMask writes a label mask as uint8 voxels with no scaling.
func WriteMask(path string, m *volume.Mask, opts WriteOptions) error {
	err := writeAtomic(path, opts, func(w io.Writer) error { return encodeMask(w, m, opts) })
	if err != nil {
		return fmt.Errorf("nifti: write mask %s: %w", path, err)
	}
	return nil
}

// WriteVolume writes a scalar volume with no scaling. When every value is an integer
// from -32768 to 32767, as CT in Hounsfield units is, the voxels are int16, exactly
// and at half the size. Otherwise they are float32, which also stores the values
// exactly. It rejects NaN and infinite values, which [Read] would reject.
//
// It first writes int16 and checks each value as it converts it, which reads the
// voxels once instead of twice. At the first value that int16 cannot represent, it
// drops that temporary file and writes float32 instead.
func WriteVolume(path string, v *volume.Volume, opts WriteOptions) error {
	err := writeAtomic(path, opts, func(w io.Writer) error { return encodeVolumeAs(w, v, opts, DatatypeInt16) })
	if errors.Is(err, errNotInt16) {
		err = writeAtomic(path, opts, func(w io.Writer) error { return encodeVolumeAs(w, v, opts, DatatypeFloat32) })
	}
	if err != nil {
		return fmt.Errorf("nifti: write volume %s: %w", path, err)
	}
	return nil
}

// WriteInt16Volume writes a volume of 16-bit integers as int16 voxels with no
// scaling. The file is byte for byte the one WriteVolume writes for a float32 volume
// with the same values and grid, but it needs no check or conversion per voxel.
func WriteInt16Volume(path string, v *volume.Int16Volume, opts WriteOptions) error {
	err := writeAtomic(path, opts, func(w io.Writer) error {
		if err := checkWritable(v.Grid, len(v.Voxels)); err != nil {
			return err
		}
		h := newHeader(v.Grid, DatatypeInt16, opts)
		if _, err := w.Write(h.encode()); err != nil {
			return err
		}
		return writeInt16Voxels(w, v.Voxels)
	})
	if err != nil {
		return fmt.Errorf("nifti: write volume %s: %w", path, err)
	}
	return nil
}

// nativeLittleEndian is set when the host stores integers little endian, as NIfTI
// files from this package do.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// writeInt16Voxels writes values little endian. On a little-endian host their memory
// already has that layout, so it is written as it is. Otherwise the values are
// converted a chunk at a time.
func writeInt16Voxels(w io.Writer, values []int16) error {
	if nativeLittleEndian && len(values) > 0 {
		_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(values))), 2*len(values)))
		return err
	}
	buf := make([]byte, 2*min(len(values), writeChunkVoxels))
	for start := 0; start < len(values); start += writeChunkVoxels {
		chunk := values[start:min(start+writeChunkVoxels, len(values))]
		out := buf[:2*len(chunk)]
		for n, value := range chunk {
			binary.LittleEndian.PutUint16(out[2*n:], uint16(value))
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// errNotInt16 reports a voxel value that int16 cannot represent exactly.
var errNotInt16 = errors.New("a voxel value is not an integer from -32768 to 32767")

// encodeMask writes the uncompressed file content of a mask to w.
func encodeMask(w io.Writer, m *volume.Mask, opts WriteOptions) error {
	if err := checkWritable(m.Grid, len(m.Labels)); err != nil {
		return err
	}
	h := newHeader(m.Grid, DatatypeUint8, opts)
	if _, err := w.Write(h.encode()); err != nil {
		return err
	}
	_, err := w.Write(m.Labels)
	return err
}

// encodeVolume writes the uncompressed file content of a volume to w, as int16 when
// int16 represents every value exactly, else as float32.
func encodeVolume(w io.Writer, v *volume.Volume, opts WriteOptions) error {
	if err := checkWritable(v.Grid, len(v.Voxels)); err != nil {
		return err
	}
	datatype, err := chooseDatatype(v)
	if err != nil {
		return err
	}
	return encodeVolumeAs(w, v, opts, datatype)
}

// encodeVolumeAs writes the uncompressed file content of a volume to w with the given
// datatype. It returns errNotInt16 for DatatypeInt16 when a value does not fit, and
// an error naming the voxel for a NaN or infinite value. After an error, w contains
// part of a file.
func encodeVolumeAs(w io.Writer, v *volume.Volume, opts WriteOptions, datatype int16) error {
	if err := checkWritable(v.Grid, len(v.Voxels)); err != nil {
		return err
	}
	h := newHeader(v.Grid, datatype, opts)
	if _, err := w.Write(h.encode()); err != nil {
		return err
	}
	return writeVoxels(w, v, datatype)
}

// checkWritable checks that a grid is valid, fits the int16 dim field and matches the
// number of voxels given.
func checkWritable(g volume.Grid, voxels int) error {
	if err := g.Validate(); err != nil {
		return err
	}
	for a := 0; a < 3; a++ {
		if g.Size[a] > math.MaxInt16 {
			return fmt.Errorf("size along axis %d is %d, but NIfTI-1 stores at most %d: %w", a, g.Size[a], math.MaxInt16, ErrUnsupported)
		}
	}
	if voxels != g.NumVoxels() {
		return fmt.Errorf("image has %d voxel values, but its grid of size %v needs %d", voxels, g.Size, g.NumVoxels())
	}
	return nil
}

// chooseDatatype returns DatatypeInt16 when int16 holds every value exactly, else
// DatatypeFloat32. It rejects non-finite values.
func chooseDatatype(v *volume.Volume) (int16, error) {
	datatype := int16(DatatypeInt16)
	for n, value := range v.Voxels {
		if fitsInt16(value) {
			continue
		}
		if err := checkFiniteVoxel(v, n); err != nil {
			return 0, err
		}
		datatype = DatatypeFloat32
	}
	return datatype, nil
}

// fitsInt16 reports whether int16 represents value exactly. A value in the int16 range
// that survives the round trip through int32 is a whole number, and NaN fails the
// range comparison, so the common CT case costs two comparisons and a conversion.
func fitsInt16(value float32) bool {
	return value >= math.MinInt16 && value <= math.MaxInt16 && float32(int32(value)) == value
}

// checkFiniteVoxel returns an error naming voxel n when its value is NaN or infinite.
func checkFiniteVoxel(v *volume.Volume, n int) error {
	f := float64(v.Voxels[n])
	if math.IsNaN(f) || math.IsInf(f, 0) {
		i, j, k := unflatten(n, v.Size)
		return fmt.Errorf("voxel (%d, %d, %d) is %g; NIfTI files from this package hold only finite values", i, j, k, f)
	}
	return nil
}

// newHeader returns the header for a grid and datatype, with transforms from the
// template when it matches the grid.
func newHeader(g volume.Grid, datatype int16, opts WriteOptions) *Header {
	h := &Header{
		Dim:       [8]int16{3, int16(g.Size[0]), int16(g.Size[1]), int16(g.Size[2]), 1, 1, 1, 1},
		Pixdim:    [8]float32{1, 1, 1, 1, 1, 1, 1, 1},
		Datatype:  datatype,
		Bitpix:    int16(8 * datatypeSize(datatype)),
		VoxOffset: singleFileDataOffset,
		SclSlope:  1,
		Descrip:   opts.Description,
		ByteOrder: binary.LittleEndian,
	}
	if t := opts.Template; t != nil && templateMatches(t, g) {
		h.QformCode, h.SformCode = t.QformCode, t.SformCode
		h.QuaternB, h.QuaternC, h.QuaternD = t.QuaternB, t.QuaternC, t.QuaternD
		h.QoffsetX, h.QoffsetY, h.QoffsetZ = t.QoffsetX, t.QoffsetY, t.QoffsetZ
		h.SrowX, h.SrowY, h.SrowZ = t.SrowX, t.SrowY, t.SrowZ
		copy(h.Pixdim[:4], t.Pixdim[:4])
		h.XYZTUnits = t.XYZTUnits & 0x07
		return h
	}
	setTransforms(h, g)
	return h
}

// templateMatches reports whether the template's grid has g's size and places every
// voxel centre within templateToleranceMM of g's. Checking the 8 corners suffices
// because both maps are affine.
func templateMatches(t *Header, g volume.Grid) bool {
	tg, err := t.grid()
	if err != nil || tg.Size != g.Size {
		return false
	}
	for corner := 0; corner < 8; corner++ {
		var index volume.Vec3
		for a := 0; a < 3; a++ {
			if corner&(1<<a) != 0 {
				index[a] = float64(g.Size[a] - 1)
			}
		}
		p, q := tg.IndexToLPS(index), g.IndexToLPS(index)
		dx, dy, dz := p[0]-q[0], p[1]-q[1], p[2]-q[2]
		if math.Sqrt(dx*dx+dy*dy+dz*dz) > templateToleranceMM {
			return false
		}
	}
	return true
}

// writeVoxels writes the voxels little endian as int16 or float32, a chunk at a time,
// checking each value as it converts it: for int16 that the value fits (else it
// returns errNotInt16), for float32 that it is finite.
func writeVoxels(w io.Writer, v *volume.Volume, datatype int16) error {
	values := v.Voxels
	size := datatypeSize(datatype)
	buf := make([]byte, size*min(len(values), writeChunkVoxels))
	for start := 0; start < len(values); start += writeChunkVoxels {
		chunk := values[start:min(start+writeChunkVoxels, len(values))]
		out := buf[:size*len(chunk)]
		if datatype == DatatypeInt16 {
			for n, value := range chunk {
				if !fitsInt16(value) {
					if err := checkFiniteVoxel(v, start+n); err != nil {
						return err
					}
					return errNotInt16
				}
				binary.LittleEndian.PutUint16(out[2*n:], uint16(int16(value)))
			}
		} else {
			for n, value := range chunk {
				bits := math.Float32bits(value)
				// The exponent bits are all ones for NaN and the infinities only.
				if bits&0x7f800000 == 0x7f800000 {
					return checkFiniteVoxel(v, start+n)
				}
				binary.LittleEndian.PutUint32(out[4*n:], bits)
			}
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes a file with atomicfile.WriteFunc, so path holds either its old
// content or the complete new file. When path ends in ".gz" the content is
// gzip-compressed.
func writeAtomic(path string, opts WriteOptions, write func(w io.Writer) error) error {
	commit := atomicfile.WriteFunc
	if opts.SkipSync {
		commit = atomicfile.WriteFuncWithoutSync
	}
	return commit(path, func(w io.Writer) error {
		if !strings.HasSuffix(strings.ToLower(path), ".gz") {
			return write(w)
		}
		// The fastest level: about 7 times faster than the default on a mostly empty
		// 512×512×300 mask, for a file about 25 % larger, which matters for autosave.
		zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			return err
		}
		if err := write(zw); err != nil {
			return err
		}
		return zw.Close()
	})
}
