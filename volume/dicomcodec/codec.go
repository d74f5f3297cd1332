package dicomcodec

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/suyashkumar/dicom/pkg/uid"
)

var (
	// ErrMalformed marks an encoded frame that breaks its codec's standard or does
	// not match the image's DICOM pixel description.
	ErrMalformed = errors.New("malformed DICOM pixel data")
	// ErrUnsupported marks a valid frame that this package does not decode, such as
	// one in an unsupported transfer syntax or with more than one sample per pixel.
	ErrUnsupported = errors.New("unsupported DICOM pixel data")
)

// Transfer syntax UIDs of the encapsulated (compressed) syntaxes that Decode reads.
const (
	RLELossless        = "1.2.840.10008.1.2.5"
	JPEGBaseline       = "1.2.840.10008.1.2.4.50"
	JPEGExtended       = "1.2.840.10008.1.2.4.51"
	JPEGLossless       = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1    = "1.2.840.10008.1.2.4.70"
	JPEGLSLossless     = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless = "1.2.840.10008.1.2.4.81"
	JPEG2000Lossless   = "1.2.840.10008.1.2.4.90"
	JPEG2000           = "1.2.840.10008.1.2.4.91"
)

// DICOM element names, with their tags, for error messages.
const (
	fieldPixelData           = "PixelData (7fe0,0010)"
	fieldTransferSyntax      = "TransferSyntaxUID (0002,0010)"
	fieldRows                = "Rows (0028,0010)"
	fieldColumns             = "Columns (0028,0011)"
	fieldSamplesPerPixel     = "SamplesPerPixel (0028,0002)"
	fieldBitsAllocated       = "BitsAllocated (0028,0100)"
	fieldBitsStored          = "BitsStored (0028,0101)"
	fieldPixelRepresentation = "PixelRepresentation (0028,0103)"
)

// decoder decodes one non-empty frame, whose Format is already checked, into
// f.Rows*f.Columns samples of f.BitsAllocated/8 bytes each, little endian.
type decoder func(frame []byte, f Format) ([]byte, error)

// decoders maps each supported encapsulated transfer syntax to its decoder.
var decoders = map[string]decoder{
	RLELossless:        decodeRLE,
	JPEGBaseline:       decodeJPEG,
	JPEGExtended:       decodeJPEG,
	JPEGLossless:       decodeJPEG,
	JPEGLosslessSV1:    decodeJPEG,
	JPEGLSLossless:     decodeJPEGLS,
	JPEGLSNearLossless: decodeJPEGLS,
	JPEG2000Lossless:   decodeJPEG2000,
	JPEG2000:           decodeJPEG2000,
}

// Format is the pixel description of one frame, from the DICOM Image Pixel module.
type Format struct {
	Rows, Columns int
	// SamplesPerPixel must be 1: only grey-scale frames are decoded.
	SamplesPerPixel int
	// BitsAllocated is 8, 16 or 32, the size of one sample in the decoded frame.
	BitsAllocated int
	// BitsStored is the number of significant bits in each sample, 1 to
	// BitsAllocated.
	BitsStored int
	// PixelRepresentation is 0 for unsigned and 1 for two's complement samples.
	PixelRepresentation int
}

// bytesPerSample returns the size of one decoded sample.
func (f Format) bytesPerSample() int { return f.BitsAllocated / 8 }

// frameBytes returns the size of the decoded frame.
func (f Format) frameBytes() int { return f.Rows * f.Columns * f.bytesPerSample() }

// check rejects pixel descriptions that no decoder here handles.
func (f Format) check() error {
	if f.Rows <= 0 || f.Columns <= 0 || f.Rows > 0xffff || f.Columns > 0xffff {
		return fmt.Errorf("%s is %d and %s is %d, want 1 to 65535: %w", fieldRows, f.Rows, fieldColumns, f.Columns, ErrMalformed)
	}
	if f.SamplesPerPixel != 1 {
		return fmt.Errorf("%s is %d; only grey-scale frames (1 sample per pixel) are decoded: %w", fieldSamplesPerPixel, f.SamplesPerPixel, ErrUnsupported)
	}
	if f.BitsAllocated != 8 && f.BitsAllocated != 16 && f.BitsAllocated != 32 {
		return fmt.Errorf("%s is %d; only 8, 16 and 32 bits are decoded: %w", fieldBitsAllocated, f.BitsAllocated, ErrUnsupported)
	}
	if f.BitsStored < 1 || f.BitsStored > f.BitsAllocated {
		return fmt.Errorf("%s is %d with %s %d, want 1 to %d: %w", fieldBitsStored, f.BitsStored, fieldBitsAllocated, f.BitsAllocated, f.BitsAllocated, ErrMalformed)
	}
	if f.PixelRepresentation != 0 && f.PixelRepresentation != 1 {
		return fmt.Errorf("%s is %d, want 0 (unsigned) or 1 (signed): %w", fieldPixelRepresentation, f.PixelRepresentation, ErrMalformed)
	}
	return nil
}

// IsSupported reports whether Decode reads frames of the encapsulated transfer
// syntax syntaxUID.
func IsSupported(syntaxUID string) bool {
	_, ok := decoders[syntaxUID]
	return ok
}

// CheckSupported returns nil when Decode reads frames of the encapsulated transfer
// syntax syntaxUID, and otherwise an error wrapping ErrUnsupported that names the
// UID and its name.
func CheckSupported(syntaxUID string) error {
	if IsSupported(syntaxUID) {
		return nil
	}
	return fmt.Errorf("%s is %s, which this reader does not decode (it decodes RLE Lossless, JPEG baseline, extended and lossless, JPEG-LS and JPEG 2000 Part 1), so convert the file first, for example with gdcmconv --raw: %w",
		fieldTransferSyntax, SyntaxName(syntaxUID), ErrUnsupported)
}

// SyntaxName returns a transfer syntax UID with its name, such as
// "1.2.840.10008.1.2.5 (RLE Lossless)".
func SyntaxName(syntaxUID string) string {
	if info, err := uid.Lookup(syntaxUID); err == nil {
		return fmt.Sprintf("%s (%s)", syntaxUID, info.Name)
	}
	return syntaxUID + " (not a standard UID)"
}

// Decode decodes one encapsulated frame of transfer syntax syntaxUID. frame is the
// frame's whole compressed bitstream: the concatenated fragments of the frame's
// PixelData items, without item headers.
//
// The result holds f.Rows × f.Columns samples, row by row with columns fastest, each
// f.BitsAllocated/8 bytes little endian: the bytes that explicit VR little endian
// PixelData would hold for this frame. Each sample's low f.BitsStored bits carry the
// value as the codec decoded it, so a caller reads samples exactly as it reads native
// pixel data, applying f.PixelRepresentation to those bits. When a codestream's own
// signedness disagrees with PixelRepresentation, as some JPEG 2000 files do, the
// header thus wins.
//
// Errors wrap ErrMalformed or ErrUnsupported and name the DICOM element or codec
// field and its value. Output is allocated only after the codestream's header
// confirms the frame size, so a small corrupt frame cannot force a large allocation.
func Decode(syntaxUID string, frame []byte, f Format) ([]byte, error) {
	decode, ok := decoders[syntaxUID]
	if !ok {
		return nil, CheckSupported(syntaxUID)
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	if len(frame) == 0 {
		return nil, fmt.Errorf("%s frame is empty (0 bytes) in transfer syntax %s: %w", fieldPixelData, SyntaxName(syntaxUID), ErrMalformed)
	}
	return decode(frame, f)
}

// putSample stores the low 8 × bytesPerSample bits of v, two's complement, as
// sample n of out, little endian.
func putSample(out []byte, n int, bytesPerSample int, v int32) {
	switch bytesPerSample {
	case 1:
		out[n] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(out[2*n:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(out[4*n:], uint32(v))
	}
}

// String describes the format for messages, such as "512 × 512 × 16 bits (12
// stored, signed)".
func (f Format) String() string {
	sign := "unsigned"
	if f.PixelRepresentation == 1 {
		sign = "signed"
	}
	return fmt.Sprintf("%d × %d × %d bits (%d stored, %s)", f.Rows, f.Columns, f.BitsAllocated, f.BitsStored, sign)
}
