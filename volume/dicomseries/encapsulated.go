package dicomseries

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume/dicomcodec"
)

// pixelByteOrder returns the byte order of a file's pixel data as this package
// reads it: the transfer syntax's own order for native syntaxes, and little endian
// for the compressed syntaxes that package dicomcodec decodes, because it returns
// little-endian samples. Other syntaxes give an error wrapping ErrUnsupported that
// names the UID.
func pixelByteOrder(syntax string) (binary.ByteOrder, error) {
	if order, ok := nativeTransferSyntaxes[syntax]; ok {
		return order, nil
	}
	if err := dicomcodec.CheckSupported(syntax); err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrUnsupported)
	}
	return binary.LittleEndian, nil
}

// decodeFrames decodes the encapsulated pixel data of an image with numberOfFrames
// frames of format f into native little-endian pixel data, one slice per frame.
// Errors from package dicomcodec also wrap this package's ErrMalformed or
// ErrUnsupported.
func decodeFrames(syntax string, info dicom.PixelDataInfo, numberOfFrames int, f dicomcodec.Format) ([][]byte, error) {
	if !info.IsEncapsulated {
		return nil, fmt.Errorf("%s is native, but transfer syntax %s needs encapsulated (compressed) pixel data: %w",
			elementName(tag.PixelData), transferSyntaxName(syntax), ErrMalformed)
	}

	// github.com/suyashkumar/dicom v1.1.0 returns each fragment as a frame.
	fragments := make([][]byte, len(info.Frames))
	for n, fragment := range info.Frames {
		fragments[n] = fragment.EncapsulatedData.Data
	}
	frames, err := dicomcodec.SplitFrames(syntax, fragments, numberOfFrames)
	if err != nil {
		return nil, codecError(err)
	}

	decoded := make([][]byte, len(frames))
	for n, frame := range frames {
		if decoded[n], err = dicomcodec.Decode(syntax, frame, f); err != nil {
			if len(frames) > 1 {
				err = fmt.Errorf("frame %d of %d: %w", n+1, len(frames), err)
			}
			return nil, codecError(err)
		}
	}
	return decoded, nil
}

// codecError adds this package's error kind to an error from package dicomcodec.
func codecError(err error) error {
	if errors.Is(err, dicomcodec.ErrUnsupported) {
		return fmt.Errorf("%w: %w", err, ErrUnsupported)
	}
	return fmt.Errorf("%w: %w", err, ErrMalformed)
}
