package dicomseries

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

func TestCheckElementLengths(t *testing.T) {
	// A code sequence item holding a short-string element whose 2-byte length
	// claims more bytes than the file holds.
	nested := encodeElements([]rawElement{textElement(tag.CodeValue, "SH", "ABC")})
	binary.LittleEndian.PutUint16(nested[6:], 0xfff0)
	corruptSequence := append(itemHeader(0xe000, uint32(len(nested))), nested...)

	// Encapsulated pixel data: an empty offset table and one fragment whose bytes
	// would read as an element of huge length if they were taken as a header.
	fragment := []byte{0x08, 0x00, 0x60, 0x00, 'O', 'B', 0, 0, 0xf0, 0xff, 0xff, 0xff}
	encapsulated := append(itemHeader(0xe000, 0), itemHeader(0xe000, uint32(len(fragment)))...)
	encapsulated = append(encapsulated, fragment...)
	encapsulated = append(encapsulated, itemHeader(0xe0dd, 0)...)

	cases := []struct {
		name    string
		file    func() []byte
		kind    error
		message string
	}{
		{"huge pixel data length", func() []byte {
			b := newSliceSpec(0).encode()
			at := bytes.Index(b, []byte{0xe0, 0x7f, 0x10, 0x00, 'O', 'W'})
			binary.LittleEndian.PutUint32(b[at+8:], 0xfffffff0)
			return b
		}, ErrMalformed, "PixelData (7fe0,0010) at byte"},
		{"corrupt length inside a sequence", func() []byte {
			s := newSliceSpec(0)
			s.replace = []rawElement{{tag: tag.ProcedureCodeSequence, vr: "SQ", value: corruptSequence}}
			return s.encode()
		}, ErrMalformed, "CodeValue (0008,0100) at byte"},
		{"encapsulated fragments skipped", func() []byte {
			s := newSliceSpec(0)
			s.transferSyntax = "1.2.840.10008.1.2.4.50"
			s.replace = []rawElement{{tag: tag.PixelData, vr: "OB", value: encapsulated, undefinedLength: true}}
			return s.encode()
		}, ErrMalformed, "PixelData (7fe0,0010) JPEG stream does not start with the SOI marker FFD8 (first bytes 08 00 60 00)"},
		{"sequences nested too deep", func() []byte {
			// 33 undefined-length sequences, each in an undefined-length item: one
			// level more than the walk accepts.
			sequence := encodeElements([]rawElement{{tag: tag.ContentSequence, vr: "SQ", undefinedLength: true}})
			var nested []byte
			for range maxSequenceDepth + 1 {
				nested = append(nested, sequence...)
				nested = append(nested, itemHeader(0xe000, undefinedLength)...)
			}
			for range maxSequenceDepth + 1 {
				nested = append(nested, itemHeader(0xe00d, 0)...)
				nested = append(nested, itemHeader(0xe0dd, 0)...)
			}
			b := newSliceSpec(0).encode()
			at := bytes.Index(b, []byte{0xe0, 0x7f, 0x10, 0x00, 'O', 'W'})
			return append(append(b[:at:at], nested...), b[at:]...)
		}, ErrUnsupported, "is nested 33 levels deep, but at most 32 levels are read"},
		{"header cut short", func() []byte {
			b := newSliceSpec(0).encode()
			return b[:len(b)-len(newSliceSpec(0).stored)*2-9]
		}, ErrMalformed, "is cut short after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSlice("case.dcm", tc.file())
			if !errors.Is(err, tc.kind) || err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %v, want one wrapping %v and containing %q", err, tc.kind, tc.message)
			}
		})
	}
}
