package dicomseries

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

// sniffSize is the number of bytes read to decide whether a file is DICOM: the
// preamble, the "DICM" marker, or the first element header of a bare dataset.
const sniffSize = preambleSize + 4

// explicitVRs are the value representations of DICOM PS3.5 Table 6.2-1, used to
// recognise an explicit VR element header.
var explicitVRs = map[string]bool{
	"AE": true, "AS": true, "AT": true, "CS": true, "DA": true, "DS": true, "DT": true,
	"FD": true, "FL": true, "IS": true, "LO": true, "LT": true, "OB": true, "OD": true,
	"OF": true, "OL": true, "OV": true, "OW": true, "PN": true, "SH": true, "SL": true,
	"SQ": true, "SS": true, "ST": true, "SV": true, "TM": true, "UC": true, "UI": true,
	"UL": true, "UN": true, "UR": true, "US": true, "UT": true, "UV": true,
}

// sniffFile reads the first bytes of path and reports whether it looks like DICOM:
// a Part 10 file with the "DICM" marker, or a bare dataset without preamble. It
// never reads the whole file, so large files of other kinds cost one small read.
func sniffFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, sniffSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	head = head[:n]
	return hasDICMPrefix(head) || startsWithElement(head), nil
}

// startsWithElement reports whether b begins with a plausible first element header
// of a dataset or file meta group: group 0002 or 0008, followed by an explicit VR
// or, for implicit VR, a 32-bit length. Almost every dataset starts with group
// 0008 (SpecificCharacterSet, ImageType or SOPClassUID), so other groups are
// treated as not DICOM.
func startsWithElement(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	group := binary.LittleEndian.Uint16(b)
	if group != tag.MetadataGroup && group != 0x0008 {
		return false
	}
	if explicitVRs[string(b[4:6])] {
		return true
	}
	return binary.LittleEndian.Uint32(b[4:]) < 1<<24
}

// toPart10 returns content as a DICOM Part 10 file with a TransferSyntaxUID, so that
// the parser reads it with a known byte order and VR encoding.
//
//   - A Part 10 file with TransferSyntaxUID is returned unchanged.
//   - A Part 10 file whose meta group lacks TransferSyntaxUID, and a bare dataset
//     without preamble and meta group, get a new meta group naming the transfer
//     syntax under which the whole dataset parses: explicit VR little endian first,
//     then implicit VR little endian. inferred is that UID, or "" when content was
//     returned unchanged.
//
// It returns an error wrapping [ErrMalformed] when the dataset parses under
// neither.
func toPart10(content []byte) (part10 []byte, inferred string, err error) {
	if !hasDICMPrefix(content) {
		if !startsWithElement(content) {
			return nil, "", fmt.Errorf("no \"DICM\" marker at byte 128 and no DICOM element header at byte 0 (the first bytes are % x), so this is not a DICOM file: %w",
				content[:min(len(content), 8)], ErrMalformed)
		}
		if binary.LittleEndian.Uint16(content) == tag.MetadataGroup {
			// A meta group without the preamble: add the preamble and read it as a
			// Part 10 file.
			with := make([]byte, 0, sniffSize+len(content))
			with = append(with, make([]byte, preambleSize)...)
			with = append(with, "DICM"...)
			return toPart10(append(with, content...))
		}
		syntax, err := inferTransferSyntax(content)
		if err != nil {
			return nil, "", fmt.Errorf("no \"DICM\" marker at byte 128, and %w", err)
		}
		return withMetaGroup(nil, syntax, content), syntax, nil
	}

	if _, ok := metaTransferSyntax(content); ok {
		return content, "", nil
	}
	metaElements, datasetStart, err := splitMetaGroup(content)
	if err != nil {
		return nil, "", err
	}
	syntax, err := inferTransferSyntax(content[datasetStart:])
	if err != nil {
		return nil, "", fmt.Errorf("%s is missing from the file meta group, and %w", elementName(tag.TransferSyntaxUID), err)
	}
	return withMetaGroup(metaElements, syntax, content[datasetStart:]), syntax, nil
}

// splitMetaGroup returns the encoded elements of the file meta group after its group
// length element, and the offset where the dataset starts.
func splitMetaGroup(content []byte) (elements []byte, datasetStart int, err error) {
	w := lengthWalker{content: content, pos: sniffSize, order: binary.LittleEndian}
	start := -1
	for w.pos+4 <= len(content) && binary.LittleEndian.Uint16(content[w.pos:]) == tag.MetadataGroup {
		at := w.pos
		header, err := w.next()
		if err != nil {
			return nil, 0, fmt.Errorf("file meta group: %w", err)
		}
		if header.length == undefinedLength {
			return nil, 0, fmt.Errorf("file meta element %s at byte %d has undefined length: %w", elementName(header.tag), at, ErrMalformed)
		}
		if header.tag != tag.FileMetaInformationGroupLength && start < 0 {
			start = at
		}
		w.pos += int(header.length)
	}
	if start < 0 {
		start = w.pos
	}
	return content[start:w.pos], w.pos, nil
}

// withMetaGroup returns a Part 10 file: a zero preamble, "DICM", a file meta group
// with the given elements (explicit VR little endian, without group length) plus
// TransferSyntaxUID, and the dataset.
func withMetaGroup(metaElements []byte, syntax string, dataset []byte) []byte {
	value := []byte(syntax)
	if len(value)%2 == 1 {
		value = append(value, 0)
	}
	var ts bytes.Buffer
	binary.Write(&ts, binary.LittleEndian, [2]uint16{tag.MetadataGroup, tag.TransferSyntaxUID.Element})
	ts.WriteString("UI")
	binary.Write(&ts, binary.LittleEndian, uint16(len(value)))
	ts.Write(value)

	groupLength := uint32(len(metaElements) + ts.Len())
	var b bytes.Buffer
	b.Grow(sniffSize + 12 + int(groupLength) + len(dataset))
	b.Write(make([]byte, preambleSize))
	b.WriteString("DICM")
	binary.Write(&b, binary.LittleEndian, [2]uint16{tag.MetadataGroup, 0x0000})
	b.WriteString("UL")
	binary.Write(&b, binary.LittleEndian, uint16(4))
	binary.Write(&b, binary.LittleEndian, groupLength)
	b.Write(metaElements)
	b.Write(ts.Bytes())
	b.Write(dataset)
	return b.Bytes()
}

// inferTransferSyntax returns the transfer syntax under which every element header
// of dataset is well formed, trying explicit VR little endian first because a valid
// VR in the first header is strong evidence, then implicit VR little endian.
func inferTransferSyntax(dataset []byte) (string, error) {
	if len(dataset) == 0 {
		return "", fmt.Errorf("the dataset is empty: %w", ErrMalformed)
	}
	var explicitErr error
	if len(dataset) >= 6 && explicitVRs[string(dataset[4:6])] {
		w := lengthWalker{content: dataset, order: binary.LittleEndian}
		if explicitErr = w.walkDataset(); explicitErr == nil {
			return uid.ExplicitVRLittleEndian, nil
		}
	} else {
		explicitErr = fmt.Errorf("the first element has no valid VR")
	}
	w := lengthWalker{content: dataset, order: binary.LittleEndian, implicit: true}
	implicitErr := w.walkDataset()
	if implicitErr == nil {
		return uid.ImplicitVRLittleEndian, nil
	}
	return "", fmt.Errorf("the dataset parses neither as explicit VR little endian (%v) nor as implicit VR little endian (%v): %w",
		explicitErr, implicitErr, ErrMalformed)
}
