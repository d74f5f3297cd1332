package seg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// This file holds a small DICOM encoder for explicit VR little endian, the transfer
// syntax of every file this package writes. It exists because dicom.Write in
// github.com/suyashkumar/dicom v1.1.0 writes native pixel data only with 8, 16 or 32
// bits allocated, and a BINARY segmentation needs 1-bit samples packed across frame
// boundaries.

// explicitVRLittleEndian is the transfer syntax UID of the files written here.
const explicitVRLittleEndian = "1.2.840.10008.1.2.1"

// element is one data element ready to encode. Exactly one of value and items is
// used: items for VR SQ, value (already padded to even length) for every other VR.
type element struct {
	tag   tag.Tag
	vr    string
	value []byte
	items [][]element
}

// stringElement returns a text element with values joined by backslashes. UI values
// are padded with a NUL and the other text VRs with a space, because DICOM values
// have even lengths.
func stringElement(t tag.Tag, vr string, values ...string) element {
	b := []byte(strings.Join(values, `\`))
	if len(b)%2 == 1 {
		if vr == "UI" {
			b = append(b, 0)
		} else {
			b = append(b, ' ')
		}
	}
	return element{tag: t, vr: vr, value: b}
}

// decimalElement returns a DS element with each value in at most 16 characters.
func decimalElement(t tag.Tag, values ...float64) element {
	text := make([]string, len(values))
	for n, v := range values {
		text[n] = formatDecimalString(v)
	}
	return stringElement(t, "DS", text...)
}

// formatDecimalString formats v for a DS value, which holds at most 16 characters.
func formatDecimalString(v float64) string {
	for precision := 10; precision > 0; precision-- {
		s := strconv.FormatFloat(v, 'g', precision, 64)
		if len(s) <= 16 {
			return s
		}
	}
	return strconv.FormatFloat(v, 'g', 1, 64)
}

// integerStringElement returns an IS element.
func integerStringElement(t tag.Tag, values ...int) element {
	text := make([]string, len(values))
	for n, v := range values {
		text[n] = strconv.Itoa(v)
	}
	return stringElement(t, "IS", text...)
}

// uint16Element returns a US element.
func uint16Element(t tag.Tag, values ...uint16) element {
	b := make([]byte, 2*len(values))
	for n, v := range values {
		binary.LittleEndian.PutUint16(b[2*n:], v)
	}
	return element{tag: t, vr: "US", value: b}
}

// uint32Element returns a UL element.
func uint32Element(t tag.Tag, values ...uint32) element {
	b := make([]byte, 4*len(values))
	for n, v := range values {
		binary.LittleEndian.PutUint32(b[4*n:], v)
	}
	return element{tag: t, vr: "UL", value: b}
}

// tagElement returns an AT element whose values are tags.
func tagElement(t tag.Tag, values ...tag.Tag) element {
	b := make([]byte, 4*len(values))
	for n, v := range values {
		binary.LittleEndian.PutUint16(b[4*n:], v.Group)
		binary.LittleEndian.PutUint16(b[4*n+2:], v.Element)
	}
	return element{tag: t, vr: "AT", value: b}
}

// bytesElement returns an OB element, padded with a NUL to even length.
func bytesElement(t tag.Tag, b []byte) element {
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return element{tag: t, vr: "OB", value: b}
}

// sequenceElement returns an SQ element with the given items.
func sequenceElement(t tag.Tag, items ...[]element) element {
	return element{tag: t, vr: "SQ", items: items}
}

// hasLongLength reports whether a VR has the 2 reserved bytes and a 4-byte length in
// explicit VR encoding.
func hasLongLength(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// encodeDataset appends the elements to buf in ascending tag order, which DICOM
// requires. Sequences and items have defined lengths.
func encodeDataset(buf *bytes.Buffer, elements []element) error {
	sorted := slices.Clone(elements)
	slices.SortStableFunc(sorted, func(a, b element) int { return a.tag.Compare(b.tag) })
	for n := 1; n < len(sorted); n++ {
		if sorted[n].tag == sorted[n-1].tag {
			return fmt.Errorf("element %s occurs twice in one data set", sorted[n].tag)
		}
	}
	for _, e := range sorted {
		if err := encodeElement(buf, e); err != nil {
			return err
		}
	}
	return nil
}

// encodeElement appends one element, with its items when it is a sequence.
func encodeElement(buf *bytes.Buffer, e element) error {
	value := e.value
	if e.vr == "SQ" {
		var items bytes.Buffer
		for _, item := range e.items {
			var content bytes.Buffer
			if err := encodeDataset(&content, item); err != nil {
				return fmt.Errorf("item of %s: %w", e.tag, err)
			}
			if content.Len() > math.MaxUint32-1 {
				return fmt.Errorf("item of %s has %d bytes, more than a 32-bit length can state", e.tag, content.Len())
			}
			writeTagHeader(&items, tag.Item, uint32(content.Len()))
			items.Write(content.Bytes())
		}
		value = items.Bytes()
	}
	if len(value)%2 == 1 {
		return fmt.Errorf("element %s has odd length %d", e.tag, len(value))
	}
	if int64(len(value)) > math.MaxUint32-1 {
		return fmt.Errorf("element %s has %d bytes, more than a 32-bit length can state", e.tag, len(value))
	}
	if !hasLongLength(e.vr) && len(value) > math.MaxUint16 {
		return fmt.Errorf("element %s (VR %s) has %d bytes, more than its 16-bit length can state", e.tag, e.vr, len(value))
	}

	var header [12]byte
	binary.LittleEndian.PutUint16(header[0:], e.tag.Group)
	binary.LittleEndian.PutUint16(header[2:], e.tag.Element)
	copy(header[4:6], e.vr)
	if hasLongLength(e.vr) {
		binary.LittleEndian.PutUint32(header[8:], uint32(len(value)))
		buf.Write(header[:12])
	} else {
		binary.LittleEndian.PutUint16(header[6:], uint16(len(value)))
		buf.Write(header[:8])
	}
	buf.Write(value)
	return nil
}

// writeTagHeader appends an item or delimiter tag with its 4-byte length.
func writeTagHeader(buf *bytes.Buffer, t tag.Tag, length uint32) {
	var header [8]byte
	binary.LittleEndian.PutUint16(header[0:], t.Group)
	binary.LittleEndian.PutUint16(header[2:], t.Element)
	binary.LittleEndian.PutUint32(header[4:], length)
	buf.Write(header[:])
}

// encodeFile returns a DICOM Part 10 file: the 128-byte preamble, "DICM", the file
// meta information (group 0002) and the data set in explicit VR little endian.
func encodeFile(sopClassUID, sopInstanceUID string, dataset []element) ([]byte, error) {
	var meta bytes.Buffer
	metaElements := []element{
		bytesElement(tag.FileMetaInformationVersion, []byte{0, 1}),
		stringElement(tag.MediaStorageSOPClassUID, "UI", sopClassUID),
		stringElement(tag.MediaStorageSOPInstanceUID, "UI", sopInstanceUID),
		stringElement(tag.TransferSyntaxUID, "UI", explicitVRLittleEndian),
		stringElement(tag.ImplementationClassUID, "UI", implementationClassUID),
		stringElement(tag.ImplementationVersionName, "SH", implementationVersionName),
	}
	if err := encodeDataset(&meta, metaElements); err != nil {
		return nil, err
	}

	var out bytes.Buffer
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	if err := encodeElement(&out, uint32Element(tag.FileMetaInformationGroupLength, uint32(meta.Len()))); err != nil {
		return nil, err
	}
	out.Write(meta.Bytes())
	if err := encodeDataset(&out, dataset); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
