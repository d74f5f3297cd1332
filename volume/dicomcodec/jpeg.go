package dicomcodec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
)

// jpegFrameHeader is the part of a JPEG start-of-frame (SOF) segment that picks the
// decoder and checks the frame against the DICOM header (ITU-T T.81 B.2.2).
type jpegFrameHeader struct {
	// marker is the SOF marker's second byte: 0xC0 baseline, 0xC1 extended, 0xC2
	// progressive and 0xC3 lossless, all Huffman coded.
	marker     byte
	precision  int
	rows       int
	columns    int
	components int
}

// Start-of-frame markers, the second byte after 0xFF.
const (
	markerSOF0 = 0xc0 // baseline DCT
	markerSOF1 = 0xc1 // extended sequential DCT
	markerSOF2 = 0xc2 // progressive DCT
	markerSOF3 = 0xc3 // lossless (sequential)
	markerSOI  = 0xd8
	markerEOI  = 0xd9
	markerSOS  = 0xda
)

// readJPEGFrameHeader finds the first SOF segment of a JPEG stream, walking the
// marker segments that precede it.
func readJPEGFrameHeader(data []byte) (jpegFrameHeader, error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != markerSOI {
		return jpegFrameHeader{}, fmt.Errorf("%s JPEG stream does not start with the SOI marker FFD8 (first bytes % x): %w", fieldPixelData, data[:min(len(data), 4)], ErrMalformed)
	}
	at := 2
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		for at+1 < len(data) && data[at] == 0xff && data[at+1] == 0xff {
			at++
		}
		if at+4 > len(data) {
			return jpegFrameHeader{}, fmt.Errorf("%s JPEG stream ends at byte %d before a start-of-frame marker: %w", fieldPixelData, len(data), ErrMalformed)
		}
		if data[at] != 0xff {
			return jpegFrameHeader{}, fmt.Errorf("%s JPEG stream has byte %#02x at byte %d where a marker was expected: %w", fieldPixelData, data[at], at, ErrMalformed)
		}
		marker := data[at+1]
		length := int(binary.BigEndian.Uint16(data[at+2:]))
		if length < 2 || at+2+length > len(data) {
			return jpegFrameHeader{}, fmt.Errorf("%s JPEG segment FF%02X at byte %d has length %d, but %d bytes follow: %w", fieldPixelData, marker, at, length, len(data)-at-2, ErrMalformed)
		}
		segment := data[at+4 : at+2+length]

		switch {
		case marker == markerSOS || marker == markerEOI:
			return jpegFrameHeader{}, fmt.Errorf("%s JPEG stream has marker FF%02X at byte %d before any start-of-frame marker: %w", fieldPixelData, marker, at, ErrMalformed)
		case marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			if len(segment) < 6 {
				return jpegFrameHeader{}, fmt.Errorf("%s JPEG start-of-frame segment FF%02X is %d bytes, want at least 6: %w", fieldPixelData, marker, len(segment), ErrMalformed)
			}
			return jpegFrameHeader{
				marker:     marker,
				precision:  int(segment[0]),
				rows:       int(binary.BigEndian.Uint16(segment[1:])),
				columns:    int(binary.BigEndian.Uint16(segment[3:])),
				components: int(segment[5]),
			}, nil
		}
		at += 2 + length
	}
}

// decodeJPEG decodes a JPEG frame of process 1 (baseline), 2 and 4 (extended) or 14
// (lossless). 8-bit DCT frames go to Go's image/jpeg. Lossless frames and 12-bit DCT
// frames go to DCMTK's IJG libraries (ijg8, ijg12, ijg16), chosen by the frame's
// sample precision as DCMTK itself chooses.
func decodeJPEG(frame []byte, f Format) ([]byte, error) {
	h, err := readJPEGFrameHeader(frame)
	if err != nil {
		return nil, err
	}
	switch h.marker {
	case markerSOF0, markerSOF1, markerSOF2, markerSOF3:
	default:
		return nil, fmt.Errorf("%s JPEG start-of-frame marker is FF%02X; only Huffman-coded baseline, extended, progressive and lossless frames (FFC0 to FFC3) are decoded: %w", fieldPixelData, h.marker, ErrUnsupported)
	}
	if h.rows != f.Rows || h.columns != f.Columns {
		return nil, fmt.Errorf("%s JPEG frame is %d rows × %d columns, but %s is %d and %s is %d: %w", fieldPixelData, h.rows, h.columns, fieldRows, f.Rows, fieldColumns, f.Columns, ErrMalformed)
	}
	if h.components != 1 {
		return nil, fmt.Errorf("%s JPEG frame has %d components, but %s is 1: %w", fieldPixelData, h.components, fieldSamplesPerPixel, ErrMalformed)
	}
	if h.precision < 2 || h.precision > 16 || h.marker != markerSOF3 && h.precision != 8 && h.precision != 12 {
		return nil, fmt.Errorf("%s JPEG sample precision is %d bits, want 8 or 12 for DCT frames and 2 to 16 for lossless frames: %w", fieldPixelData, h.precision, ErrMalformed)
	}
	if h.precision > f.BitsAllocated {
		return nil, fmt.Errorf("%s JPEG sample precision is %d bits, more than %s %d: %w", fieldPixelData, h.precision, fieldBitsAllocated, f.BitsAllocated, ErrMalformed)
	}

	if h.marker != markerSOF3 && h.precision == 8 {
		return decodeJPEG8(frame, f)
	}
	return decodeIJG(frame, h.precision, f)
}

// decodeJPEG8 decodes an 8-bit DCT frame with image/jpeg.
func decodeJPEG8(frame []byte, f Format) ([]byte, error) {
	img, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		return nil, fmt.Errorf("%s 8-bit JPEG frame of %d bytes: image/jpeg failed: %v: %w", fieldPixelData, len(frame), err, ErrMalformed)
	}
	gray, ok := img.(*image.Gray)
	if !ok {
		return nil, fmt.Errorf("%s 8-bit JPEG frame decoded to %T, want a grey-scale image: %w", fieldPixelData, img, ErrMalformed)
	}
	if gray.Rect.Dx() != f.Columns || gray.Rect.Dy() != f.Rows {
		return nil, fmt.Errorf("%s 8-bit JPEG frame decoded to %d × %d pixels, want %d × %d: %w", fieldPixelData, gray.Rect.Dx(), gray.Rect.Dy(), f.Columns, f.Rows, ErrMalformed)
	}

	bytesPerSample := f.bytesPerSample()
	out := make([]byte, f.frameBytes())
	for y := 0; y < f.Rows; y++ {
		row := gray.Pix[y*gray.Stride : y*gray.Stride+f.Columns]
		for x, v := range row {
			putSample(out, y*f.Columns+x, bytesPerSample, int32(v))
		}
	}
	return out, nil
}
