// Package dicomcodec decodes one compressed (encapsulated) DICOM frame into the
// samples that uncompressed pixel data would hold.
//
// [Decode] takes a transfer syntax UID, the frame's bitstream (its fragments joined)
// and the frame's [Format] from the Image Pixel module. It returns Rows × Columns
// samples, row by row with columns fastest, each BitsAllocated/8 bytes little
// endian, which is the layout of explicit VR little endian PixelData. A caller reads
// them as it reads native pixel data: the low BitsStored bits, sign-extended when
// PixelRepresentation is 1, then RescaleSlope and RescaleIntercept. [SplitFrames]
// groups the fragments of multi-frame pixel data into frames.
//
// # Transfer syntaxes
//
// Decode reads these encapsulated syntaxes, with these decoders:
//
//   - 1.2.840.10008.1.2.5 RLE Lossless: this package, in Go.
//   - 1.2.840.10008.1.2.4.50 JPEG Baseline (process 1) and 1.2.840.10008.1.2.4.51
//     JPEG Extended (processes 2 and 4): 8-bit frames with Go's image/jpeg, 12-bit
//     frames with DCMTK's ijg12 library.
//   - 1.2.840.10008.1.2.4.57 JPEG Lossless (process 14) and 1.2.840.10008.1.2.4.70
//     JPEG Lossless SV1: DCMTK's ijg8, ijg12 or ijg16 library, chosen by the frame's
//     sample precision (2 to 16 bits).
//   - 1.2.840.10008.1.2.4.80 JPEG-LS Lossless and 1.2.840.10008.1.2.4.81 JPEG-LS
//     Near-Lossless: CharLS.
//   - 1.2.840.10008.1.2.4.90 JPEG 2000 Lossless and 1.2.840.10008.1.2.4.91 JPEG
//     2000: OpenJPEG, for a bare codestream or a JP2 file.
//
// The native syntaxes (implicit and explicit VR little endian, explicit VR big
// endian, and deflated explicit VR little endian, which
// github.com/suyashkumar/dicom v1.1.0 inflates while parsing) need no decoder and
// are not handled here. Every other syntax, such as the retired JPEG processes,
// JPEG 2000 Part 2, HTJ2K and the video syntaxes, gives an error wrapping
// [ErrUnsupported] that names the UID and its name.
//
// # Signedness
//
// Codecs store the sample bits, and PixelRepresentation decides how they are read.
// When a JPEG 2000 codestream's own signedness disagrees with PixelRepresentation,
// the header wins: the decoded values are stored as two's complement bits and read
// as the header says.
//
// # Errors and limits
//
// Errors wrap [ErrMalformed] for a frame that breaks its codec's standard or does
// not match the Format, and [ErrUnsupported] for a valid frame this package does not
// decode. Each error names the DICOM element (PixelData, Rows, BitsAllocated and so
// on) and the value, and callers add the file name. Before allocating the output,
// each decoder checks the codestream's own header (SOF, SIZ, JPEG-LS frame header,
// RLE segment sizes) against the Format, so a small corrupt frame cannot force a
// large allocation.
//
// Only grey-scale frames (SamplesPerPixel 1) with BitsAllocated 8, 16 or 32 are
// decoded. The C libraries come from Debian 12: OpenJPEG 2.5.0, CharLS 2.4.1 and
// DCMTK 3.6.7. A crash inside one of them ends the process, because cgo cannot
// recover from it. CharLS 2.4.1 can spend tens of seconds on some corrupt JPEG-LS
// streams, so streams without an end-of-image marker are rejected before it runs.
package dicomcodec
