package dicomcodec

// #cgo pkg-config: charls
// #include <stdlib.h>
// #include <charls/charls.h>
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// decodeJPEGLS decodes a JPEG-LS lossless or near-lossless frame with CharLS.
func decodeJPEGLS(frame []byte, f Format) ([]byte, error) {
	// CharLS 2.4.1 (Debian 12) can spend tens of seconds on a stream cut short
	// before it fails, so a stream without its end-of-image marker is rejected here.
	// NOTE: a corrupt stream that keeps its EOI marker may still take that long;
	// CharLS fixed an endless loop on invalid input in a later release (pull request
	// 334, September 2024).
	if !endsWithEOI(frame) {
		return nil, fmt.Errorf("%s JPEG-LS stream of %d bytes does not end with the EOI marker FFD9 (last bytes % x), so it is truncated: %w",
			fieldPixelData, len(frame), frame[max(0, len(frame)-4):], ErrMalformed)
	}

	decoder := C.charls_jpegls_decoder_create()
	if decoder == nil {
		return nil, fmt.Errorf("%s JPEG-LS frame: CharLS could not create a decoder (out of memory)", fieldPixelData)
	}
	defer C.charls_jpegls_decoder_destroy(decoder)

	// CharLS keeps the source pointer between calls, and cgo forbids C from keeping
	// Go pointers after a call returns, so the frame is copied to C memory.
	source := C.CBytes(frame)
	defer C.free(source)
	if code := C.charls_jpegls_decoder_set_source_buffer(decoder, source, C.size_t(len(frame))); code != 0 {
		return nil, charlsError("setting the source", len(frame), code)
	}
	if code := C.charls_jpegls_decoder_read_header(decoder); code != 0 {
		return nil, charlsError("reading the header", len(frame), code)
	}
	var info C.charls_frame_info
	if code := C.charls_jpegls_decoder_get_frame_info(decoder, &info); code != 0 {
		return nil, charlsError("reading the frame information", len(frame), code)
	}

	// The frame must match the DICOM header before any output is allocated.
	if int(info.height) != f.Rows || int(info.width) != f.Columns {
		return nil, fmt.Errorf("%s JPEG-LS frame is %d rows × %d columns, but %s is %d and %s is %d: %w",
			fieldPixelData, info.height, info.width, fieldRows, f.Rows, fieldColumns, f.Columns, ErrMalformed)
	}
	if info.component_count != 1 {
		return nil, fmt.Errorf("%s JPEG-LS frame has %d components, but %s is 1: %w", fieldPixelData, info.component_count, fieldSamplesPerPixel, ErrMalformed)
	}
	precision := int(info.bits_per_sample)
	if precision > f.BitsAllocated {
		return nil, fmt.Errorf("%s JPEG-LS sample precision is %d bits, more than %s %d: %w", fieldPixelData, precision, fieldBitsAllocated, f.BitsAllocated, ErrMalformed)
	}

	// CharLS writes 1 byte per sample up to 8 bits and 2 bytes in host order above.
	decodedBytes := 1
	if precision > 8 {
		decodedBytes = 2
	}
	samples := f.Rows * f.Columns
	decoded := C.malloc(C.size_t(samples * decodedBytes))
	if decoded == nil {
		return nil, fmt.Errorf("%s JPEG-LS frame: cannot allocate %d bytes for %d × %d samples", fieldPixelData, samples*decodedBytes, f.Rows, f.Columns)
	}
	defer C.free(decoded)
	if code := C.charls_jpegls_decoder_decode_to_buffer(decoder, decoded, C.size_t(samples*decodedBytes), 0); code != 0 {
		return nil, charlsError("decoding", len(frame), code)
	}

	raw := unsafe.Slice((*byte)(decoded), samples*decodedBytes)
	bytesPerSample := f.bytesPerSample()
	out := make([]byte, f.frameBytes())
	for n := 0; n < samples; n++ {
		var v int32
		if decodedBytes == 1 {
			v = int32(raw[n])
		} else {
			v = int32(binary.NativeEndian.Uint16(raw[2*n:]))
		}
		putSample(out, n, bytesPerSample, v)
	}
	return out, nil
}

// charlsError wraps a CharLS error code from one decoding step.
func charlsError(step string, frameBytes int, code C.charls_jpegls_errc) error {
	return fmt.Errorf("%s JPEG-LS frame of %d bytes: CharLS failed while %s: error %d, %s: %w",
		fieldPixelData, frameBytes, step, int(code), C.GoString(C.charls_get_error_message(code)), ErrMalformed)
}

// endsWithEOI reports whether a JPEG or JPEG-LS stream ends with the end-of-image
// marker FFD9, allowing one byte that pads a DICOM fragment to an even length: 0x00
// as the standard requires, or 0xFF as some writers add.
func endsWithEOI(frame []byte) bool {
	end := len(frame)
	if end > 0 && (frame[end-1] == 0x00 || frame[end-1] == 0xff) {
		end--
	}
	return end >= 2 && frame[end-2] == 0xff && frame[end-1] == 0xd9
}
