package dicomseries

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// This file builds small explicit-VR little-endian DICOM files for tests, so that
// series with chosen geometry and defects can be made without external tools.

// rawElement is one data element to encode.
type rawElement struct {
	tag   tag.Tag
	vr    string
	value []byte
	// undefinedLength writes 0xFFFFFFFF as the length. value must then end with the
	// sequence delimiter.
	undefinedLength bool
}

// textValue pads s to an even length: UI with a NUL, other text VRs with a space.
func textValue(vr, s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		if vr == "UI" {
			b = append(b, 0)
		} else {
			b = append(b, ' ')
		}
	}
	return b
}

func textElement(t tag.Tag, vr, s string) rawElement {
	return rawElement{tag: t, vr: vr, value: textValue(vr, s)}
}

func usElement(t tag.Tag, v uint16) rawElement {
	return rawElement{tag: t, vr: "US", value: binary.LittleEndian.AppendUint16(nil, v)}
}

func dsElement(t tag.Tag, values ...float64) rawElement {
	parts := make([]string, len(values))
	for n, v := range values {
		parts[n] = fmt.Sprint(v)
	}
	return textElement(t, "DS", strings.Join(parts, `\`))
}

// encodeElements writes elements in explicit VR little endian, sorted by tag.
func encodeElements(elements []rawElement) []byte {
	sort.Slice(elements, func(a, b int) bool { return elements[a].tag.Compare(elements[b].tag) < 0 })
	var buf bytes.Buffer
	for _, e := range elements {
		binary.Write(&buf, binary.LittleEndian, e.tag.Group)
		binary.Write(&buf, binary.LittleEndian, e.tag.Element)
		buf.WriteString(e.vr)
		switch e.vr {
		case "OB", "OW", "SQ", "UN", "UT":
			buf.Write([]byte{0, 0})
			length := uint32(len(e.value))
			if e.undefinedLength {
				length = undefinedLength
			}
			binary.Write(&buf, binary.LittleEndian, length)
		default:
			binary.Write(&buf, binary.LittleEndian, uint16(len(e.value)))
		}
		buf.Write(e.value)
	}
	return buf.Bytes()
}

// encodePart10 returns a DICOM Part 10 file: preamble, "DICM", file meta group and
// dataset.
func encodePart10(transferSyntax string, dataset []rawElement) []byte {
	meta := encodeElements([]rawElement{
		{tag: tag.FileMetaInformationVersion, vr: "OB", value: []byte{0, 1}},
		textElement(tag.MediaStorageSOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.2"),
		textElement(tag.MediaStorageSOPInstanceUID, "UI", "2.25.77"),
		textElement(tag.TransferSyntaxUID, "UI", transferSyntax),
	})
	var buf bytes.Buffer
	buf.Write(make([]byte, preambleSize))
	buf.WriteString("DICM")
	buf.Write(encodeElements([]rawElement{{tag: tag.FileMetaInformationGroupLength, vr: "UL", value: binary.LittleEndian.AppendUint32(nil, uint32(len(meta)))}}))
	buf.Write(meta)
	buf.Write(encodeElements(dataset))
	return buf.Bytes()
}

// sliceSpec describes one synthetic CT image. Zero values take the defaults of
// newSliceSpec.
type sliceSpec struct {
	seriesUID      string
	transferSyntax string
	modality       string
	contrastAgent  string
	positionLPS    [3]float64
	orientation    [6]float64
	pixelSpacing   [2]float64
	rows, columns  int
	stored         []int16
	slope          float64
	intercept      float64
	// omit lists elements to leave out.
	omit []tag.Tag
	// replace lists elements that take the place of the default ones with the same tag.
	replace []rawElement
}

// newSliceSpec returns a 3-row, 4-column CT image at height z whose stored values
// encode z and the pixel index, so tests can recognise each pixel after sorting.
func newSliceSpec(z float64) sliceSpec {
	s := sliceSpec{
		seriesUID:      "2.25.1234",
		transferSyntax: "1.2.840.10008.1.2.1",
		modality:       "CT",
		positionLPS:    [3]float64{-100, 50, z},
		orientation:    [6]float64{1, 0, 0, 0, 1, 0},
		pixelSpacing:   [2]float64{0.8, 0.6},
		rows:           3,
		columns:        4,
		slope:          1,
		intercept:      -1024,
	}
	s.stored = make([]int16, s.rows*s.columns)
	for n := range s.stored {
		s.stored[n] = int16(int(z)*16 + n - 500)
	}
	return s
}

// encode returns the image as a Part 10 file.
func (s sliceSpec) encode() []byte {
	return encodePart10(s.transferSyntax, s.elements())
}

// elements returns the dataset elements of the image.
func (s sliceSpec) elements() []rawElement {
	pixels := make([]byte, 0, 2*len(s.stored))
	for _, v := range s.stored {
		pixels = binary.LittleEndian.AppendUint16(pixels, uint16(v))
	}
	elements := []rawElement{
		textElement(tag.SOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.2"),
		textElement(tag.Modality, "CS", s.modality),
		textElement(tag.SeriesDescription, "LO", "synthetic"),
		textElement(tag.SeriesInstanceUID, "UI", s.seriesUID),
		dsElement(tag.ImagePositionPatient, s.positionLPS[:]...),
		dsElement(tag.ImageOrientationPatient, s.orientation[:]...),
		dsElement(tag.PixelSpacing, s.pixelSpacing[:]...),
		usElement(tag.SamplesPerPixel, 1),
		textElement(tag.PhotometricInterpretation, "CS", "MONOCHROME2"),
		usElement(tag.Rows, uint16(s.rows)),
		usElement(tag.Columns, uint16(s.columns)),
		usElement(tag.BitsAllocated, 16),
		usElement(tag.BitsStored, 16),
		usElement(tag.HighBit, 15),
		usElement(tag.PixelRepresentation, 1),
		dsElement(tag.RescaleIntercept, s.intercept),
		dsElement(tag.RescaleSlope, s.slope),
		{tag: tag.PixelData, vr: "OW", value: pixels},
	}
	if s.contrastAgent != "" {
		elements = append(elements, textElement(tag.ContrastBolusAgent, "LO", s.contrastAgent))
	}
	var kept []rawElement
	for _, e := range elements {
		dropped := false
		for _, t := range s.omit {
			dropped = dropped || e.tag == t
		}
		for _, r := range s.replace {
			dropped = dropped || e.tag == r.tag
		}
		if !dropped {
			kept = append(kept, e)
		}
	}
	return append(kept, s.replace...)
}

// writeSeries writes one file per spec into a new folder, naming them so that file
// name order is the reverse of spec order, and returns the folder.
func writeSeries(t *testing.T, specs []sliceSpec) string {
	t.Helper()
	dir := t.TempDir()
	for n, s := range specs {
		name := fmt.Sprintf("IM%04d.dcm", len(specs)-n)
		if err := os.WriteFile(filepath.Join(dir, name), s.encode(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stack returns specs for slices at the given heights.
func stack(heights ...float64) []sliceSpec {
	specs := make([]sliceSpec, len(heights))
	for n, z := range heights {
		specs[n] = newSliceSpec(z)
	}
	return specs
}

// itemHeader returns an item or delimiter header of group FFFE with a length.
func itemHeader(element uint16, length uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, 0xfffe)
	b = binary.LittleEndian.AppendUint16(b, element)
	return binary.LittleEndian.AppendUint32(b, length)
}
