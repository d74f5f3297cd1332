package dicomcodec

// #cgo pkg-config: libopenjp2
// #include <stdlib.h>
// #include "j2k.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// decodeJPEG2000 decodes a JPEG 2000 Part 1 frame, a bare codestream or, as some
// writers store it, a JP2 file, with OpenJPEG.
//
// The decoded values are stored as two's complement in BitsAllocated bits, whatever
// the codestream's own signedness, so PixelRepresentation decides how they are read.
func decodeJPEG2000(frame []byte, f Format) ([]byte, error) {
	source := C.CBytes(frame)
	defer C.free(source)
	var header C.protrude_j2k_header
	var samples *C.int32_t
	message := make([]byte, 256)

	status := C.protrude_j2k_decode((*C.uint8_t)(source), C.size_t(len(frame)),
		C.uint32_t(f.Columns), C.uint32_t(f.Rows), C.uint32_t(f.BitsAllocated),
		&header, &samples, (*C.char)(unsafe.Pointer(&message[0])), C.size_t(len(message)))
	switch status {
	case 0:
	case 2:
		return nil, fmt.Errorf("%s JPEG 2000 image is %d rows × %d columns with %d components of %d bits (subsampling %d × %d), but %s is %d, %s %d, %s 1 and %s %d: %w",
			fieldPixelData, header.rows, header.columns, header.components, header.precision, header.subsampling_x, header.subsampling_y,
			fieldRows, f.Rows, fieldColumns, f.Columns, fieldSamplesPerPixel, fieldBitsAllocated, f.BitsAllocated, ErrMalformed)
	default:
		return nil, fmt.Errorf("%s JPEG 2000 frame of %d bytes: OpenJPEG failed: %s: %w",
			fieldPixelData, len(frame), C.GoString((*C.char)(unsafe.Pointer(&message[0]))), ErrMalformed)
	}
	defer C.free(unsafe.Pointer(samples))

	count := f.Rows * f.Columns
	values := unsafe.Slice((*int32)(unsafe.Pointer(samples)), count)
	bytesPerSample := f.bytesPerSample()
	out := make([]byte, f.frameBytes())
	for n, v := range values {
		putSample(out, n, bytesPerSample, v)
	}
	return out, nil
}
