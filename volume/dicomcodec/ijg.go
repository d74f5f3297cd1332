package dicomcodec

// #cgo CXXFLAGS: -std=c++17
// #cgo LDFLAGS: -ldcmjpeg -lijg8 -lijg12 -lijg16 -ldcmimgle -ldcmdata -loflog -lofstd
// #include <stdlib.h>
// #include "ijg.h"
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// decodeIJG decodes a lossless or 12-bit JPEG frame whose SOF segment has already
// been checked against f, with DCMTK's IJG library for the frame's precision.
func decodeIJG(frame []byte, precision int, f Format) ([]byte, error) {
	// ijg8 writes 1 byte per sample, and ijg12 and ijg16 write 2 bytes in host order.
	decodedBytes := 1
	if precision > 8 {
		decodedBytes = 2
	}
	samples := f.Rows * f.Columns
	decoded := make([]byte, samples*decodedBytes)
	message := make([]byte, 256)

	status := C.protrude_ijg_decode(C.int(precision),
		(*C.uint8_t)(unsafe.Pointer(&frame[0])), C.size_t(len(frame)),
		(*C.uint8_t)(unsafe.Pointer(&decoded[0])), C.size_t(len(decoded)),
		C.int(f.PixelRepresentation),
		(*C.char)(unsafe.Pointer(&message[0])), C.size_t(len(message)))
	if status != 0 {
		return nil, fmt.Errorf("%s %d-bit JPEG frame of %d bytes: DCMTK failed: %s: %w",
			fieldPixelData, precision, len(frame), C.GoString((*C.char)(unsafe.Pointer(&message[0]))), ErrMalformed)
	}

	bytesPerSample := f.bytesPerSample()
	out := make([]byte, f.frameBytes())
	for n := 0; n < samples; n++ {
		var v int32
		if decodedBytes == 1 {
			v = int32(decoded[n])
		} else {
			v = int32(binary.NativeEndian.Uint16(decoded[2*n:]))
		}
		putSample(out, n, bytesPerSample, v)
	}
	return out, nil
}
