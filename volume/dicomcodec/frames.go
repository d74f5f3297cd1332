package dicomcodec

import (
	"bytes"
	"fmt"
)

// Codestream signatures that start a frame.
var (
	jpegSOI      = []byte{0xff, 0xd8}       // JPEG and JPEG-LS start of image
	j2kSOC       = []byte{0xff, 0x4f, 0xff} // JPEG 2000 start of codestream, then a marker
	jp2Signature = []byte{0, 0, 0, 0x0c, 'j', 'P', ' ', ' '}
)

// SplitFrames groups the fragments of encapsulated pixel data (the items after the
// basic offset table, without item headers) into numberOfFrames compressed frames.
//
// One frame takes every fragment, and as many fragments as frames map one to one.
// Otherwise a fragment that starts with a codestream signature (JPEG or JPEG-LS SOI,
// JPEG 2000 SOC or the JP2 signature) starts a new frame, which is how frames are
// found without the basic offset table.
//
// NOTE: github.com/suyashkumar/dicom v1.1.0 drops the basic offset table, so an RLE
// frame split over several fragments, which has no signature, cannot be found and
// gives an error.
func SplitFrames(syntaxUID string, fragments [][]byte, numberOfFrames int) ([][]byte, error) {
	if numberOfFrames < 1 {
		return nil, fmt.Errorf("NumberOfFrames (0028,0008) is %d, want at least 1: %w", numberOfFrames, ErrMalformed)
	}
	if len(fragments) == 0 {
		return nil, fmt.Errorf("%s has no fragments after the basic offset table: %w", fieldPixelData, ErrMalformed)
	}
	if numberOfFrames == 1 {
		return [][]byte{bytes.Join(fragments, nil)}, nil
	}
	if len(fragments) == numberOfFrames {
		return fragments, nil
	}
	if len(fragments) < numberOfFrames {
		return nil, fmt.Errorf("%s has %d fragments, fewer than NumberOfFrames (0028,0008) %d: %w", fieldPixelData, len(fragments), numberOfFrames, ErrMalformed)
	}

	if syntaxUID == RLELossless {
		return nil, fmt.Errorf("%s has %d RLE fragments for NumberOfFrames (0028,0008) %d, but RLE frames split over several fragments cannot be separated because the basic offset table is not read, so convert the file with one fragment per frame: %w",
			fieldPixelData, len(fragments), numberOfFrames, ErrUnsupported)
	}
	var frames [][]byte
	for n, fragment := range fragments {
		startsFrame := bytes.HasPrefix(fragment, jpegSOI) || bytes.HasPrefix(fragment, j2kSOC) || bytes.HasPrefix(fragment, jp2Signature)
		switch {
		case startsFrame:
			frames = append(frames, append([]byte(nil), fragment...))
		case n == 0:
			return nil, fmt.Errorf("%s fragment 1 does not start with a JPEG, JPEG-LS or JPEG 2000 signature (first bytes % x): %w", fieldPixelData, fragment[:min(len(fragment), 4)], ErrMalformed)
		default:
			frames[len(frames)-1] = append(frames[len(frames)-1], fragment...)
		}
	}
	if len(frames) != numberOfFrames {
		return nil, fmt.Errorf("%s has %d fragments that start %d codestreams, but NumberOfFrames (0028,0008) is %d: %w",
			fieldPixelData, len(fragments), len(frames), numberOfFrames, ErrMalformed)
	}
	return frames, nil
}
