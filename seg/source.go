package seg

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

// Tolerances for matching source images and SEG frames to grid slices.
const (
	// inPlaneToleranceVoxels bounds the in-plane distance, in voxels, between a
	// slice's ImagePositionPatient and the grid's line of slice origins.
	inPlaneToleranceVoxels = 0.1
	// sliceToleranceVoxels bounds the distance, in slices, between a position and
	// the nearest grid slice.
	sliceToleranceVoxels = 0.25
	// orientationTolerance bounds the difference between a direction cosine in a
	// file and the grid's axis.
	orientationTolerance = 1e-4
	// positionToleranceMM bounds the distance between a SEG frame's
	// ImagePositionPatient and its source slice's.
	positionToleranceMM = 0.01
)

// Source is the CT series that a segmentation refers to, matched slice by slice to
// the grid its masks are on. It contains patient identifiers (in the copied Patient
// module), which are written into the SEG and never into an error message.
type Source struct {
	// Dir is the folder that was read.
	Dir  string
	Grid volume.Grid
	// StudyInstanceUID, SeriesInstanceUID and FrameOfReferenceUID are shared by every
	// slice.
	StudyInstanceUID    string
	SeriesInstanceUID   string
	FrameOfReferenceUID string
	// Slices[k] is the image at grid slice k.
	Slices []SourceSlice

	// firstFile is the first image read, whose study, series and frame of reference
	// the others must share.
	firstFile string
	// imageOrientation is ImageOrientationPatient as written in the first image.
	imageOrientation []string
	// sliceThickness is SliceThickness as written in the first image, or "" when absent.
	sliceThickness string
	// copied holds the Patient, General Study and Frame of Reference elements that
	// the SEG copies from the source.
	copied []element
}

// SourceSlice is one single-frame image of the source series.
type SourceSlice struct {
	// File is the file's name inside the folder.
	File           string
	SOPClassUID    string
	SOPInstanceUID string
	PositionLPS    volume.Vec3

	// position is ImagePositionPatient as written in the file.
	position []string
}

// copiedElements lists the source elements the SEG copies. Type 2 elements are
// written empty when the source lacks them, and the others are left out.
var copiedElements = []struct {
	tag   tag.Tag
	vr    string
	type2 bool
}{
	{tag.SpecificCharacterSet, "CS", false},
	{tag.StudyDate, "DA", true},
	{tag.StudyTime, "TM", true},
	{tag.AccessionNumber, "SH", true},
	{tag.ReferringPhysicianName, "PN", true},
	{tag.StudyDescription, "LO", false},
	{tag.PatientName, "PN", true},
	{tag.PatientID, "LO", true},
	{tag.IssuerOfPatientID, "LO", false},
	{tag.PatientBirthDate, "DA", true},
	{tag.PatientSex, "CS", true},
	{tag.PatientAge, "AS", false},
	{tag.PatientSize, "DS", false},
	{tag.PatientWeight, "DS", false},
	{tag.StudyInstanceUID, "UI", true},
	{tag.StudyID, "SH", true},
	{tag.FrameOfReferenceUID, "UI", true},
	{tag.PositionReferenceIndicator, "LO", true},
}

// ReadSource reads the headers of the single-frame DICOM images in dir and matches
// each image to a slice of grid by its ImagePositionPatient. grid is the grid the
// masks are on, as package dicomseries reads the same folder. It skips subfolders,
// hidden files, DICOMDIR and files without the "DICM" marker, as dicomseries does.
// Every grid slice must have exactly one image.
func ReadSource(dir string, grid volume.Grid) (*Source, error) {
	src, err := readSource(dir, grid)
	if err != nil {
		return nil, fmt.Errorf("seg: read source series %s: %w", dir, err)
	}
	return src, nil
}

func readSource(dir string, grid volume.Grid) (*Source, error) {
	if err := grid.Validate(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}

	src := &Source{Dir: dir, Grid: grid, Slices: make([]SourceSlice, grid.Size[2])}
	found := make([]bool, grid.Size[2])
	count := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.EqualFold(name, "DICOMDIR") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if !hasDICMPrefix(content) {
			continue
		}

		ds, err := parseDataset(content, dicom.SkipPixelData())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s, k, err := src.readSlice(name, &ds, count == 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if found[k] {
			return nil, fmt.Errorf("%s and %s both lie at grid slice %d; a series has one image per position: %w", src.Slices[k].File, name, k, ErrMalformed)
		}
		found[k] = true
		src.Slices[k] = s
		if count == 0 {
			if err := src.copyElements(&ds); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		count++
	}

	for k, ok := range found {
		if !ok {
			return nil, fmt.Errorf("no image lies at grid slice %d of %d (position %v mm LPS); pass the folder the masks were made from: %w",
				k, grid.Size[2], grid.IndexToLPS(volume.Vec3{0, 0, float64(k)}), ErrMalformed)
		}
	}
	return src, nil
}

// readSlice reads one image's references and geometry and returns its grid slice.
// The first image sets the study, series and frame of reference that the others
// must share.
func (src *Source) readSlice(name string, ds *dicom.Dataset, first bool) (SourceSlice, int, error) {
	s := SourceSlice{File: name}
	var err error
	if s.SOPClassUID, err = requiredString(ds, tag.SOPClassUID); err != nil {
		return s, 0, err
	}
	if s.SOPInstanceUID, err = requiredString(ds, tag.SOPInstanceUID); err != nil {
		return s, 0, err
	}
	if frames, err := optionalInt(ds, tag.NumberOfFrames); err != nil {
		return s, 0, err
	} else if frames > 1 {
		return s, 0, fmt.Errorf("%s is %d; only single-frame source images are supported: %w", elementName(tag.NumberOfFrames), frames, ErrUnsupported)
	}

	shared := []struct {
		tag   tag.Tag
		value *string
	}{
		{tag.StudyInstanceUID, &src.StudyInstanceUID},
		{tag.SeriesInstanceUID, &src.SeriesInstanceUID},
		{tag.FrameOfReferenceUID, &src.FrameOfReferenceUID},
	}
	for _, f := range shared {
		value, err := requiredString(ds, f.tag)
		if err != nil {
			return s, 0, err
		}
		if first {
			*f.value = value
			src.firstFile = name
		} else if value != *f.value {
			return s, 0, fmt.Errorf("%s is %q, but %s has %q; the folder must hold one series: %w", elementName(f.tag), value, src.firstFile, *f.value, ErrMalformed)
		}
	}

	rows, err := requiredInt(ds, tag.Rows)
	if err != nil {
		return s, 0, err
	}
	columns, err := requiredInt(ds, tag.Columns)
	if err != nil {
		return s, 0, err
	}
	if rows != src.Grid.Size[1] || columns != src.Grid.Size[0] {
		return s, 0, fmt.Errorf("image is %d rows × %d columns, but the mask grid is %d × %d; pass the folder the masks were made from: %w",
			rows, columns, src.Grid.Size[1], src.Grid.Size[0], ErrMalformed)
	}

	orientationText, orientation, err := requiredFloats(ds, tag.ImageOrientationPatient, 6)
	if err != nil {
		return s, 0, err
	}
	if err := checkOrientation(src.Grid, orientation, elementName(tag.ImageOrientationPatient)); err != nil {
		return s, 0, err
	}
	positionText, position, err := requiredFloats(ds, tag.ImagePositionPatient, 3)
	if err != nil {
		return s, 0, err
	}
	s.position = positionText
	s.PositionLPS = volume.Vec3{position[0], position[1], position[2]}
	k, err := gridSlice(src.Grid, s.PositionLPS, elementName(tag.ImagePositionPatient))
	if err != nil {
		return s, 0, err
	}

	if first {
		src.imageOrientation = orientationText
		src.sliceThickness = optionalString(ds, tag.SliceThickness)
	}
	return s, k, nil
}

// checkOrientation checks that a row and column cosine pair matches the grid's axes
// i and j.
func checkOrientation(g volume.Grid, cosines []float64, name string) error {
	for a := 0; a < 2; a++ {
		for c := 0; c < 3; c++ {
			if math.Abs(cosines[3*a+c]-g.AxesLPS[a][c]) > orientationTolerance {
				return fmt.Errorf("%s is %v, but the mask grid's row and column directions are %v and %v: %w",
					name, cosines, g.AxesLPS[0], g.AxesLPS[1], ErrMalformed)
			}
		}
	}
	return nil
}

// gridSlice returns the slice k of the grid whose origin is at position, or an
// error naming the element when no slice is.
func gridSlice(g volume.Grid, position volume.Vec3, name string) (int, error) {
	index := g.LPSToIndex(position)
	k := int(math.Round(index[2]))
	if math.Abs(index[0]) > inPlaneToleranceVoxels || math.Abs(index[1]) > inPlaneToleranceVoxels ||
		math.Abs(index[2]-float64(k)) > sliceToleranceVoxels || k < 0 || k >= g.Size[2] {
		return 0, fmt.Errorf("%s %v mm is at voxel index (%.3g, %.3g, %.3g) of the mask grid, which is not the origin of one of its %d slices: %w",
			name, position, index[0], index[1], index[2], g.Size[2], ErrMalformed)
	}
	return k, nil
}

// copyElements stores the elements of copiedElements that ds has, keeping their
// values unchanged.
func (src *Source) copyElements(ds *dicom.Dataset) error {
	for _, c := range copiedElements {
		e, err := ds.FindElementByTag(c.tag)
		if err != nil || e.Value == nil {
			if c.type2 {
				src.copied = append(src.copied, element{tag: c.tag, vr: c.vr})
			}
			continue
		}
		values, ok := e.Value.GetValue().([]string)
		if !ok {
			return fmt.Errorf("%s has value type %v, want text: %w", elementName(c.tag), e.Value.ValueType(), ErrMalformed)
		}
		trimmed := make([]string, len(values))
		for n, v := range values {
			trimmed[n] = strings.TrimRight(v, " \x00")
		}
		src.copied = append(src.copied, stringElement(c.tag, c.vr, trimmed...))
	}
	return nil
}

// hasDICMPrefix reports whether b has the "DICM" marker after the 128-byte preamble.
func hasDICMPrefix(b []byte) bool {
	return len(b) >= 132 && string(b[128:132]) == "DICM"
}

// parseDataset parses a whole DICOM file held in memory after checking its element
// lengths. A panic inside the parser, which github.com/suyashkumar/dicom v1.1.0
// raises on some malformed files, becomes an error.
func parseDataset(content []byte, opts ...dicom.ParseOption) (ds dicom.Dataset, err error) {
	if err := checkElementLengths(content); err != nil {
		return dicom.Dataset{}, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the DICOM parser panicked (%v), so the file is probably malformed: %w", r, ErrMalformed)
		}
	}()
	ds, err = dicom.Parse(bytes.NewReader(content), int64(len(content)), nil, opts...)
	if err != nil {
		return ds, fmt.Errorf("parse: %w: %w", err, ErrMalformed)
	}
	return ds, nil
}

// elementName returns the keyword and tag of an element, such as
// "ImagePositionPatient (0020,0032)".
func elementName(t tag.Tag) string {
	if info, err := tag.Find(t); err == nil {
		return info.Keyword + " " + t.String()
	}
	return t.String()
}

// stringsOf returns the text values of an element with surrounding spaces and NULs
// removed, or nil when the element is absent.
func stringsOf(ds *dicom.Dataset, t tag.Tag) ([]string, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return nil, nil
	}
	values, ok := e.Value.GetValue().([]string)
	if !ok {
		return nil, fmt.Errorf("%s has value type %v, want text: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
	}
	trimmed := make([]string, len(values))
	for n, v := range values {
		trimmed[n] = strings.Trim(v, " \x00")
	}
	return trimmed, nil
}

// requiredString returns the first value of a text element that must be present.
func requiredString(ds *dicom.Dataset, t tag.Tag) (string, error) {
	values, err := stringsOf(ds, t)
	if err != nil {
		return "", err
	}
	if len(values) == 0 || values[0] == "" {
		return "", fmt.Errorf("%s is missing or empty: %w", elementName(t), ErrMalformed)
	}
	return values[0], nil
}

// optionalString returns the first value of a text element, or "" when it is absent
// or not text.
func optionalString(ds *dicom.Dataset, t tag.Tag) string {
	values, err := stringsOf(ds, t)
	if err != nil || len(values) == 0 {
		return ""
	}
	return values[0]
}

// requiredFloats returns the text and the parsed values of a decimal string
// element that must have count finite values.
func requiredFloats(ds *dicom.Dataset, t tag.Tag, count int) ([]string, []float64, error) {
	values, err := stringsOf(ds, t)
	if err != nil {
		return nil, nil, err
	}
	if len(values) != count {
		return nil, nil, fmt.Errorf("%s has %d values %q, want %d: %w", elementName(t), len(values), values, count, ErrMalformed)
	}
	parsed := make([]float64, count)
	for n, v := range values {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nil, fmt.Errorf("%s value %d is %q, want a finite decimal number: %w", elementName(t), n+1, v, ErrMalformed)
		}
		parsed[n] = f
	}
	return values, parsed, nil
}

// intsOf returns the values of an integer element (US, UL, SS, SL or IS), or nil
// when it is absent.
func intsOf(ds *dicom.Dataset, t tag.Tag) ([]int, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return nil, nil
	}
	switch v := e.Value.GetValue().(type) {
	case []int:
		return v, nil
	case []string:
		ints := make([]int, len(v))
		for n, s := range v {
			i, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("%s value %d is %q, want an integer: %w", elementName(t), n+1, s, ErrMalformed)
			}
			ints[n] = i
		}
		return ints, nil
	}
	return nil, fmt.Errorf("%s has value type %v, want an integer: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
}

// requiredInt returns the single value of an integer element that must be present.
func requiredInt(ds *dicom.Dataset, t tag.Tag) (int, error) {
	values, err := intsOf(ds, t)
	if err != nil {
		return 0, err
	}
	if len(values) != 1 {
		return 0, fmt.Errorf("%s has %d values %v, want 1: %w", elementName(t), len(values), values, ErrMalformed)
	}
	return values[0], nil
}

// optionalInt returns the single value of an integer element, or 0 when it is absent.
func optionalInt(ds *dicom.Dataset, t tag.Tag) (int, error) {
	values, err := intsOf(ds, t)
	if err != nil || len(values) == 0 {
		return 0, err
	}
	if len(values) != 1 {
		return 0, fmt.Errorf("%s has %d values %v, want 1: %w", elementName(t), len(values), values, ErrMalformed)
	}
	return values[0], nil
}
