package dicomcodec

import (
	"encoding/binary"
	"fmt"
)

// rleHeaderSize is the size of the RLE header: a segment count and 15 offsets, each a
// 32-bit little-endian integer (DICOM PS3.5 Annex G.5).
const rleHeaderSize = 64

// maxRLESegments is the largest segment count the RLE header can hold.
const maxRLESegments = 15

// decodeRLE decodes a DICOM RLE Lossless frame. The frame has one segment per byte of
// a sample, most significant byte first, and each segment is a PackBits byte stream
// of Rows × Columns bytes. A segment that decodes to more bytes is cut to that size,
// because encoders pad segments to an even length.
func decodeRLE(frame []byte, f Format) ([]byte, error) {
	if len(frame) < rleHeaderSize {
		return nil, fmt.Errorf("%s RLE header is %d bytes, want %d: %w", fieldPixelData, len(frame), rleHeaderSize, ErrMalformed)
	}
	bytesPerSample := f.bytesPerSample()
	segments := int(binary.LittleEndian.Uint32(frame))
	if segments != bytesPerSample {
		return nil, fmt.Errorf("%s RLE header has %d segments, but %s %d with 1 sample per pixel needs %d: %w",
			fieldPixelData, segments, fieldBitsAllocated, f.BitsAllocated, bytesPerSample, ErrMalformed)
	}

	// Segment n runs from its offset to the next segment's offset, or to the end of
	// the frame for the last one.
	offsets := make([]int, segments+1)
	for n := 0; n < segments; n++ {
		offsets[n] = int(binary.LittleEndian.Uint32(frame[4+4*n:]))
	}
	offsets[segments] = len(frame)
	if offsets[0] != rleHeaderSize {
		return nil, fmt.Errorf("%s RLE segment 1 starts at byte %d, want %d (right after the header): %w", fieldPixelData, offsets[0], rleHeaderSize, ErrMalformed)
	}
	for n := 1; n <= segments; n++ {
		if offsets[n] < offsets[n-1] || offsets[n] > len(frame) {
			return nil, fmt.Errorf("%s RLE segment %d offset is %d after %d, in a frame of %d bytes: %w",
				fieldPixelData, n+1, offsets[n], offsets[n-1], len(frame), ErrMalformed)
		}
	}

	// A PackBits run of 2 bytes gives at most 128 bytes, so a segment shorter than
	// this cannot fill its plane. Checking first keeps a tiny frame from claiming a
	// large allocation.
	planeSize := f.Rows * f.Columns
	for n := 0; n < segments; n++ {
		if length := offsets[n+1] - offsets[n]; length*64 < planeSize {
			return nil, fmt.Errorf("%s RLE segment %d is %d bytes, too short to decode to %d × %d = %d bytes: %w",
				fieldPixelData, n+1, length, f.Rows, f.Columns, planeSize, ErrMalformed)
		}
	}

	out := make([]byte, f.frameBytes())
	plane := make([]byte, planeSize)
	for n := 0; n < segments; n++ {
		if err := unpackBits(plane, frame[offsets[n]:offsets[n+1]]); err != nil {
			return nil, fmt.Errorf("%s RLE segment %d: %w", fieldPixelData, n+1, err)
		}
		// Segment 0 is the most significant byte, which is the last byte of a
		// little-endian sample.
		at := bytesPerSample - 1 - n
		for i, b := range plane {
			out[i*bytesPerSample+at] = b
		}
	}
	return out, nil
}

// unpackBits decodes PackBits data from src until dst is full. A header byte h of 0
// to 127 copies the next h+1 bytes, 129 to 255 (−127 to −1) repeats the next byte
// 257−h times, and 128 is a no-op.
func unpackBits(dst, src []byte) error {
	written, read := 0, 0
	for written < len(dst) {
		if read >= len(src) {
			return fmt.Errorf("PackBits data end after %d of %d bytes: %w", written, len(dst), ErrMalformed)
		}
		header := int(int8(src[read]))
		read++
		switch {
		case header >= 0:
			count := header + 1
			if read+count > len(src) {
				return fmt.Errorf("PackBits literal run of %d bytes at byte %d runs past the segment end (%d bytes): %w", count, read-1, len(src), ErrMalformed)
			}
			written += copy(dst[written:], src[read:read+count])
			read += count
		case header != -128:
			count := 1 - header
			if read >= len(src) {
				return fmt.Errorf("PackBits repeat run at byte %d has no value byte: %w", read-1, ErrMalformed)
			}
			value := src[read]
			read++
			for end := min(written+count, len(dst)); written < end; written++ {
				dst[written] = value
			}
		}
	}
	return nil
}
