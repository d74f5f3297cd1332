package nifti

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// Sizes and offsets of the NIfTI-1 single-file layout.
const (
	headerSize = 348
	// singleFileDataOffset is the smallest vox_offset of a ".nii" file: the 348-byte
	// header plus the 4-byte extension flag.
	singleFileDataOffset = 352
	// nifti2HeaderSize is sizeof_hdr of a NIfTI-2 file, which this package rejects.
	nifti2HeaderSize = 540
	descripSize      = 80
)

// Datatype codes of NIfTI-1 (NIFTI_TYPE_*), as nibabel 5 lists them.
const (
	DatatypeUint8   = 2
	DatatypeInt16   = 4
	DatatypeInt32   = 8
	DatatypeFloat32 = 16
	DatatypeFloat64 = 64
	DatatypeInt8    = 256
	DatatypeUint16  = 512
	DatatypeUint32  = 768
)

// Transform codes for qform_code and sform_code (NIFTI_XFORM_*).
const (
	XformUnknown     = 0
	XformScannerAnat = 1
	XformAlignedAnat = 2
)

// Spatial unit codes in the low 3 bits of xyzt_units.
const (
	unitsUnknown = 0
	unitsMeter   = 1
	unitsMM      = 2
	unitsMicron  = 3
)

// datatypeNames maps every NIfTI-1 datatype code to its name, for error messages.
var datatypeNames = map[int16]string{
	0:    "unknown",
	1:    "binary",
	2:    "uint8",
	4:    "int16",
	8:    "int32",
	16:   "float32",
	32:   "complex64",
	64:   "float64",
	128:  "rgb24",
	255:  "all",
	256:  "int8",
	512:  "uint16",
	768:  "uint32",
	1024: "int64",
	1280: "uint64",
	1536: "float128",
	1792: "complex128",
	2048: "complex256",
	2304: "rgba32",
}

// datatypeSize returns the bytes per voxel of a datatype this package reads, or 0 for
// any other code.
func datatypeSize(code int16) int {
	switch code {
	case DatatypeUint8, DatatypeInt8:
		return 1
	case DatatypeInt16, DatatypeUint16:
		return 2
	case DatatypeInt32, DatatypeUint32, DatatypeFloat32:
		return 4
	case DatatypeFloat64:
		return 8
	}
	return 0
}

// datatypeName returns "name (code)" for a datatype code, for error messages.
func datatypeName(code int16) string {
	if name, ok := datatypeNames[code]; ok {
		return fmt.Sprintf("%s (code %d)", name, code)
	}
	return fmt.Sprintf("code %d, not defined by NIfTI-1", code)
}

// Header contains the NIfTI-1 header fields that describe the voxel layout, the data
// scaling and the patient-space transforms. The fields keep the stored values, with
// no unit conversion or orientation change, so a file written with this header as a
// template carries the same transforms bit for bit.
type Header struct {
	// Dim is dim[0..7]: dim[0] is the number of dimensions and dim[1..] the sizes.
	Dim [8]int16
	// Pixdim is pixdim[0..7]: pixdim[0] is qfac (the sign of the third qform axis) and
	// pixdim[1..3] the voxel sizes in the spatial units of XYZTUnits.
	Pixdim [8]float32
	// Datatype is the voxel type code, for example DatatypeInt16.
	Datatype int16
	// Bitpix is the stored bits per voxel. The reader uses Datatype and ignores it.
	Bitpix int16
	// VoxOffset is the byte offset of the voxel data in the file.
	VoxOffset float32
	// SclSlope and SclInter scale stored values: value = stored*SclSlope + SclInter.
	// A slope of 0 or a non-finite slope means no scaling.
	SclSlope, SclInter float32
	// XYZTUnits is xyzt_units: spatial units in bits 0-2, time units in bits 3-5.
	XYZTUnits uint8
	// Descrip is the free-text description, up to 79 bytes.
	Descrip string
	// QformCode and SformCode name the space each transform maps to (XformUnknown,
	// XformScannerAnat, ...). Zero means the transform is absent.
	QformCode, SformCode int16
	// QuaternB, QuaternC and QuaternD are the qform rotation quaternion without its
	// first component, which is derived from them.
	QuaternB, QuaternC, QuaternD float32
	// QoffsetX, QoffsetY and QoffsetZ are the qform translation, in RAS.
	QoffsetX, QoffsetY, QoffsetZ float32
	// SrowX, SrowY and SrowZ are the rows of the sform affine, which maps (i, j, k, 1)
	// to RAS.
	SrowX, SrowY, SrowZ [4]float32
	// ByteOrder is the byte order of the file that was read. The writer always writes
	// little endian.
	ByteOrder binary.ByteOrder
}

// parseHeader decodes the first 348 bytes of a NIfTI-1 single file. It detects the
// byte order from sizeof_hdr and checks the magic string.
func parseHeader(b []byte) (*Header, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("header is %d bytes, want %d: %w", len(b), headerSize, ErrMalformed)
	}

	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(b[0:4]) == headerSize:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(b[0:4]) == headerSize:
		order = binary.BigEndian
	case binary.LittleEndian.Uint32(b[0:4]) == nifti2HeaderSize || binary.BigEndian.Uint32(b[0:4]) == nifti2HeaderSize:
		return nil, fmt.Errorf("sizeof_hdr is 540, which is NIfTI-2; only NIfTI-1 is read, so convert the file (for example with nibabel) to NIfTI-1: %w", ErrUnsupported)
	default:
		return nil, fmt.Errorf("sizeof_hdr is %d (little endian) or %d (big endian), want 348; this is not a NIfTI-1 file: %w",
			int32(binary.LittleEndian.Uint32(b[0:4])), int32(binary.BigEndian.Uint32(b[0:4])), ErrMalformed)
	}

	magic := b[344:348]
	switch {
	case bytes.Equal(magic, []byte("n+1\x00")):
	case bytes.Equal(magic, []byte("ni1\x00")):
		return nil, fmt.Errorf("magic is \"ni1\", a header with its voxels in a separate .img file; only single .nii files are read, so convert the pair to .nii: %w", ErrUnsupported)
	default:
		return nil, fmt.Errorf("magic is %q, want \"n+1\\x00\": %w", magic, ErrMalformed)
	}

	i16 := func(off int) int16 { return int16(order.Uint16(b[off:])) }
	f32 := func(off int) float32 { return math.Float32frombits(order.Uint32(b[off:])) }

	h := &Header{ByteOrder: order}
	for n := 0; n < 8; n++ {
		h.Dim[n] = i16(40 + 2*n)
		h.Pixdim[n] = f32(76 + 4*n)
	}
	h.Datatype = i16(70)
	h.Bitpix = i16(72)
	h.VoxOffset = f32(108)
	h.SclSlope = f32(112)
	h.SclInter = f32(116)
	h.XYZTUnits = b[123]
	h.Descrip = cString(b[148 : 148+descripSize])
	h.QformCode = i16(252)
	h.SformCode = i16(254)
	h.QuaternB = f32(256)
	h.QuaternC = f32(260)
	h.QuaternD = f32(264)
	h.QoffsetX = f32(268)
	h.QoffsetY = f32(272)
	h.QoffsetZ = f32(276)
	for n := 0; n < 4; n++ {
		h.SrowX[n] = f32(280 + 4*n)
		h.SrowY[n] = f32(296 + 4*n)
		h.SrowZ[n] = f32(312 + 4*n)
	}
	return h, nil
}

// encode returns the 352 bytes that start a little-endian single file: the header
// followed by an extension flag of zero.
func (h *Header) encode() []byte {
	b := make([]byte, singleFileDataOffset)
	order := binary.LittleEndian
	putI16 := func(off int, v int16) { order.PutUint16(b[off:], uint16(v)) }
	putF32 := func(off int, v float32) { order.PutUint32(b[off:], math.Float32bits(v)) }

	order.PutUint32(b[0:], headerSize)
	b[38] = 'r' // The ANALYZE 7.5 "regular" flag, which NIfTI readers ignore.
	for n := 0; n < 8; n++ {
		putI16(40+2*n, h.Dim[n])
		putF32(76+4*n, h.Pixdim[n])
	}
	putI16(70, h.Datatype)
	putI16(72, h.Bitpix)
	putF32(108, h.VoxOffset)
	putF32(112, h.SclSlope)
	putF32(116, h.SclInter)
	b[123] = h.XYZTUnits
	copy(b[148:148+descripSize-1], truncateUTF8(h.Descrip, descripSize-1))
	putI16(252, h.QformCode)
	putI16(254, h.SformCode)
	putF32(256, h.QuaternB)
	putF32(260, h.QuaternC)
	putF32(264, h.QuaternD)
	putF32(268, h.QoffsetX)
	putF32(272, h.QoffsetY)
	putF32(276, h.QoffsetZ)
	for n := 0; n < 4; n++ {
		putF32(280+4*n, h.SrowX[n])
		putF32(296+4*n, h.SrowY[n])
		putF32(312+4*n, h.SrowZ[n])
	}
	copy(b[344:348], "n+1\x00")
	return b
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	if n := bytes.IndexByte(b, 0); n >= 0 {
		b = b[:n]
	}
	return string(b)
}

// truncateUTF8 shortens s to at most max bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
