package seg

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
	"protrude/volume/nifti"
)

// Read loads the segments of the BINARY DICOM SEG at path onto the grid of src, the
// series it refers to. Each frame is placed by its ImagePositionPatient, or by its
// source image's SOP Instance UID when it has no position. Segments come in
// SegmentSequence order. An error names the file and the element that does not
// match the series. A path that is not a regular file is rejected, as
// [nifti.OpenRegular] does.
func Read(path string, src *Source) ([]Segment, error) {
	segments, err := read(path, src)
	if err != nil {
		return nil, fmt.Errorf("seg: read %s: %w", path, err)
	}
	return segments, nil
}

func read(path string, src *Source) ([]Segment, error) {
	f, err := nifti.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	content, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return decode(content, src)
}

// decode reads the segments of a SEG file held in memory.
func decode(content []byte, src *Source) ([]Segment, error) {
	if !hasDICMPrefix(content) {
		return nil, fmt.Errorf("no \"DICM\" marker at byte 128, so this is not a DICOM Part 10 file: %w", ErrMalformed)
	}
	ds, err := parseDataset(content, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		return nil, err
	}

	if err := checkHeader(&ds, src); err != nil {
		return nil, err
	}
	segments, numbers, err := readSegmentSequence(&ds)
	if err != nil {
		return nil, err
	}
	frames, err := readFrames(&ds, src, numbers)
	if err != nil {
		return nil, err
	}
	pixels, err := pixelData(&ds, len(frames)*src.Grid.Size[0]*src.Grid.Size[1])
	if err != nil {
		return nil, err
	}

	// Masks are allocated only once the whole file has been checked, so a file that
	// is rejected costs no mask memory.
	for n := range segments {
		segments[n].Mask = volume.NewMask(src.Grid)
	}
	unpackFrames(pixels, frames, segments, src.Grid)
	return segments, nil
}

// checkHeader checks the SOP class, segmentation type, pixel format, frame of
// reference and referenced series against src.
func checkHeader(ds *dicom.Dataset, src *Source) error {
	class, err := requiredString(ds, tag.SOPClassUID)
	if err != nil {
		return err
	}
	if class != SegmentationStorageUID {
		return fmt.Errorf("%s is %q, want %s (Segmentation Storage): %w", elementName(tag.SOPClassUID), class, SegmentationStorageUID, ErrMalformed)
	}
	kind, err := requiredString(ds, tag.SegmentationType)
	if err != nil {
		return err
	}
	if kind != "BINARY" {
		return fmt.Errorf("%s is %q; only BINARY segmentations are read: %w", elementName(tag.SegmentationType), kind, ErrUnsupported)
	}

	expected := []struct {
		tag  tag.Tag
		want int
	}{
		{tag.BitsAllocated, 1},
		{tag.SamplesPerPixel, 1},
		{tag.Rows, src.Grid.Size[1]},
		{tag.Columns, src.Grid.Size[0]},
	}
	for _, e := range expected {
		got, err := requiredInt(ds, e.tag)
		if err != nil {
			return err
		}
		if got != e.want {
			return fmt.Errorf("%s is %d, want %d to match a BINARY segmentation of the series in %s: %w", elementName(e.tag), got, e.want, src.Dir, ErrMalformed)
		}
	}

	frameOfReference, err := requiredString(ds, tag.FrameOfReferenceUID)
	if err != nil {
		return err
	}
	if frameOfReference != src.FrameOfReferenceUID {
		return fmt.Errorf("%s is %q, but the series in %s has %q; pass the series the segmentation was made from: %w",
			elementName(tag.FrameOfReferenceUID), frameOfReference, src.Dir, src.FrameOfReferenceUID, ErrMalformed)
	}

	// ReferencedSeriesSequence is absent from some older files, which then refer to
	// their source images frame by frame only.
	referenced, err := sequenceItems(ds.Elements, tag.ReferencedSeriesSequence)
	if err != nil {
		return err
	}
	if len(referenced) > 0 {
		var uids []string
		for _, item := range referenced {
			uids = append(uids, itemString(item, tag.SeriesInstanceUID))
		}
		if !containsString(uids, src.SeriesInstanceUID) {
			return fmt.Errorf("%s refers to series %q, but the series in %s is %q; pass the series the segmentation was made from: %w",
				elementName(tag.ReferencedSeriesSequence), uids, src.Dir, src.SeriesInstanceUID, ErrMalformed)
		}
	}
	return nil
}

// maxSegments is the largest number of SegmentSequence items that [Read] accepts.
// Each segment gets a one-byte-per-voxel mask of the whole grid, 78.6 MB on a
// 512×512×300 CT, so the limit bounds the memory that a small file can request. The
// standard allows 65535 segments, and TotalSegmentator v2's default task has 117.
const maxSegments = 1000

// readSegmentSequence returns one segment without a mask per SegmentSequence item
// and a map from segment number to index.
func readSegmentSequence(ds *dicom.Dataset) ([]Segment, map[int]int, error) {
	items, err := sequenceItems(ds.Elements, tag.SegmentSequence)
	if err != nil {
		return nil, nil, err
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("%s is missing or empty: %w", elementName(tag.SegmentSequence), ErrMalformed)
	}
	if len(items) > maxSegments {
		return nil, nil, fmt.Errorf("%s has %d items, but at most %d segments are read: %w",
			elementName(tag.SegmentSequence), len(items), maxSegments, ErrUnsupported)
	}
	segments := make([]Segment, len(items))
	numbers := make(map[int]int, len(items))
	for n, item := range items {
		number, err := itemInt(item, tag.SegmentNumber)
		if err != nil {
			return nil, nil, fmt.Errorf("%s item %d: %w", elementName(tag.SegmentSequence), n+1, err)
		}
		if _, dup := numbers[number]; dup || number < 1 {
			return nil, nil, fmt.Errorf("%s item %d: %s is %d, which is below 1 or used twice: %w",
				elementName(tag.SegmentSequence), n+1, elementName(tag.SegmentNumber), number, ErrMalformed)
		}
		numbers[number] = n
		segments[n] = Segment{
			Number:        number,
			Label:         itemString(item, tag.SegmentLabel),
			Description:   itemString(item, tag.SegmentDescription),
			Category:      itemCode(item, tag.SegmentedPropertyCategoryCodeSequence),
			Type:          itemCode(item, tag.SegmentedPropertyTypeCodeSequence),
			AlgorithmType: itemString(item, tag.SegmentAlgorithmType),
		}
	}
	return segments, numbers, nil
}

// readFrames returns the segment index and grid slice of every frame.
func readFrames(ds *dicom.Dataset, src *Source, numbers map[int]int) ([]frameRef, error) {
	numFrames, err := requiredInt(ds, tag.NumberOfFrames)
	if err != nil {
		return nil, err
	}
	perFrame, err := sequenceItems(ds.Elements, tag.PerFrameFunctionalGroupsSequence)
	if err != nil {
		return nil, err
	}
	if numFrames < 1 || len(perFrame) != numFrames {
		return nil, fmt.Errorf("%s is %d, but %s has %d items: %w",
			elementName(tag.NumberOfFrames), numFrames, elementName(tag.PerFrameFunctionalGroupsSequence), len(perFrame), ErrMalformed)
	}
	sharedItems, err := sequenceItems(ds.Elements, tag.SharedFunctionalGroupsSequence)
	if err != nil {
		return nil, err
	}
	var shared []*dicom.Element
	if len(sharedItems) > 0 {
		shared = sharedItems[0]
	}

	// The orientation is in the shared groups or in every frame's groups.
	if err := checkFrameOrientation(shared, src.Grid, "shared"); err != nil {
		return nil, err
	}

	bySOPInstance := make(map[string]int, len(src.Slices))
	for k, s := range src.Slices {
		bySOPInstance[s.SOPInstanceUID] = k
	}
	frames := make([]frameRef, numFrames)
	for n, item := range perFrame {
		where := fmt.Sprintf("%s item %d", elementName(tag.PerFrameFunctionalGroupsSequence), n+1)
		if err := checkFrameOrientation(item, src.Grid, where); err != nil {
			return nil, err
		}
		number, err := frameSegmentNumber(item, shared)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		segment, ok := numbers[number]
		if !ok {
			return nil, fmt.Errorf("%s: %s is %d, which SegmentSequence does not define: %w", where, elementName(tag.ReferencedSegmentNumber), number, ErrMalformed)
		}
		k, err := frameSlice(item, src, bySOPInstance)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		frames[n] = frameRef{segment, k}
	}
	return frames, nil
}

// checkFrameOrientation checks PlaneOrientationSequence in a functional group item
// when it is there.
func checkFrameOrientation(item []*dicom.Element, g volume.Grid, where string) error {
	orientation, err := sequenceItems(item, tag.PlaneOrientationSequence)
	if err != nil || len(orientation) == 0 {
		return err
	}
	cosines, err := itemFloats(orientation[0], tag.ImageOrientationPatient, 6)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", where, elementName(tag.PlaneOrientationSequence), err)
	}
	if err := checkOrientation(g, cosines, elementName(tag.PlaneOrientationSequence)+" > "+elementName(tag.ImageOrientationPatient)); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// frameSegmentNumber returns ReferencedSegmentNumber from the frame's groups, or
// from the shared groups when the frame has none.
func frameSegmentNumber(item, shared []*dicom.Element) (int, error) {
	for _, group := range [][]*dicom.Element{item, shared} {
		identification, err := sequenceItems(group, tag.SegmentIdentificationSequence)
		if err != nil {
			return 0, err
		}
		if len(identification) > 0 {
			return itemInt(identification[0], tag.ReferencedSegmentNumber)
		}
	}
	return 0, fmt.Errorf("%s is missing: %w", elementName(tag.SegmentIdentificationSequence), ErrMalformed)
}

// frameSlice returns the grid slice of a frame from its ImagePositionPatient, or
// from its source image when it has no position.
func frameSlice(item []*dicom.Element, src *Source, bySOPInstance map[string]int) (int, error) {
	position, err := sequenceItems(item, tag.PlanePositionSequence)
	if err != nil {
		return 0, err
	}
	if len(position) > 0 {
		name := elementName(tag.PlanePositionSequence) + " > " + elementName(tag.ImagePositionPatient)
		p, err := itemFloats(position[0], tag.ImagePositionPatient, 3)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", elementName(tag.PlanePositionSequence), err)
		}
		lps := volume.Vec3{p[0], p[1], p[2]}
		k, err := gridSlice(src.Grid, lps, name)
		if err != nil {
			return 0, err
		}
		want := src.Slices[k].PositionLPS
		if d := distance(lps, want); d > positionToleranceMM {
			return 0, fmt.Errorf("%s is %v mm, %.3g mm from the nearest image of the series in %s (%s at %v mm): %w",
				name, lps, d, src.Dir, src.Slices[k].File, want, ErrMalformed)
		}
		return k, nil
	}

	derivation, err := sequenceItems(item, tag.DerivationImageSequence)
	if err != nil {
		return 0, err
	}
	for _, d := range derivation {
		sources, err := sequenceItems(d, tag.SourceImageSequence)
		if err != nil {
			return 0, err
		}
		for _, s := range sources {
			uid := itemString(s, tag.ReferencedSOPInstanceUID)
			if k, ok := bySOPInstance[uid]; ok {
				return k, nil
			}
			return 0, fmt.Errorf("%s > %s is %q, which was not found in the series in %s: %w",
				elementName(tag.SourceImageSequence), elementName(tag.ReferencedSOPInstanceUID), uid, src.Dir, ErrMalformed)
		}
	}
	return 0, fmt.Errorf("the frame has neither %s nor %s > %s, so it cannot be placed: %w",
		elementName(tag.PlanePositionSequence), elementName(tag.DerivationImageSequence), elementName(tag.SourceImageSequence), ErrMalformed)
}

// pixelData returns the native pixel data bytes, which must hold at least bits bits.
func pixelData(ds *dicom.Dataset, bits int) ([]byte, error) {
	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil || e.Value == nil {
		return nil, fmt.Errorf("%s is missing: %w", elementName(tag.PixelData), ErrMalformed)
	}
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return nil, fmt.Errorf("%s has value type %v: %w", elementName(tag.PixelData), e.Value.ValueType(), ErrMalformed)
	}
	if info.IsEncapsulated || !info.IntentionallyUnprocessed {
		return nil, fmt.Errorf("%s is encapsulated (compressed); only native BINARY pixel data is read: %w", elementName(tag.PixelData), ErrUnsupported)
	}
	want := (bits + 7) / 8
	if len(info.UnprocessedValueData) < want {
		return nil, fmt.Errorf("%s has %d bytes, but the frames need %d: %w", elementName(tag.PixelData), len(info.UnprocessedValueData), want, ErrMalformed)
	}
	return info.UnprocessedValueData, nil
}

// unpackFrames sets the voxels of each frame's segment slice to 1 where the frame's
// bit is set. Bits run from the least significant bit of each byte, with no padding
// between frames. Frames that repeat a slice of a segment are combined by union.
func unpackFrames(pixels []byte, frames []frameRef, segments []Segment, g volume.Grid) {
	plane := g.Size[0] * g.Size[1]
	bit := 0
	for _, f := range frames {
		labels := segments[f.segment].Mask.Labels[f.k*plane : (f.k+1)*plane]
		for n := range labels {
			if pixels[bit>>3]&(1<<(bit&7)) != 0 {
				labels[n] = 1
			}
			bit++
		}
	}
}

func distance(a, b volume.Vec3) float64 {
	dx, dy, dz := a[0]-b[0], a[1]-b[1], a[2]-b[2]
	return math.Sqrt(dx*dx + dy*dy + dz*dz)
}

func containsString(values []string, s string) bool {
	for _, v := range values {
		if v == s {
			return true
		}
	}
	return false
}

// sequenceItems returns the items of a sequence element among elements, or nil when
// it is absent.
func sequenceItems(elements []*dicom.Element, t tag.Tag) ([][]*dicom.Element, error) {
	e := findElement(elements, t)
	if e == nil || e.Value == nil {
		return nil, nil
	}
	values, ok := e.Value.GetValue().([]*dicom.SequenceItemValue)
	if !ok {
		return nil, fmt.Errorf("%s has value type %v, want a sequence: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
	}
	items := make([][]*dicom.Element, len(values))
	for n, v := range values {
		elements, ok := v.GetValue().([]*dicom.Element)
		if !ok {
			return nil, fmt.Errorf("%s item %d is not a data set: %w", elementName(t), n+1, ErrMalformed)
		}
		items[n] = elements
	}
	return items, nil
}

func findElement(elements []*dicom.Element, t tag.Tag) *dicom.Element {
	for _, e := range elements {
		if e != nil && e.Tag == t {
			return e
		}
	}
	return nil
}

// itemString returns the first text value of an element in a sequence item, or ""
// when it is absent or not text.
func itemString(item []*dicom.Element, t tag.Tag) string {
	ds := dicom.Dataset{Elements: item}
	return optionalString(&ds, t)
}

// itemInt returns the single integer value of an element in a sequence item.
func itemInt(item []*dicom.Element, t tag.Tag) (int, error) {
	ds := dicom.Dataset{Elements: item}
	return requiredInt(&ds, t)
}

// itemFloats returns the count decimal values of an element in a sequence item.
func itemFloats(item []*dicom.Element, t tag.Tag, count int) ([]float64, error) {
	ds := dicom.Dataset{Elements: item}
	_, values, err := requiredFloats(&ds, t, count)
	return values, err
}

// itemCode returns the first item of a code sequence, or the zero Code when absent.
func itemCode(item []*dicom.Element, t tag.Tag) Code {
	codes, err := sequenceItems(item, t)
	if err != nil || len(codes) == 0 {
		return Code{}
	}
	return Code{
		Value:   strings.TrimSpace(itemString(codes[0], tag.CodeValue)),
		Scheme:  itemString(codes[0], tag.CodingSchemeDesignator),
		Meaning: itemString(codes[0], tag.CodeMeaning),
	}
}
