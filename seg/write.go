package seg

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"
	"protrude/internal/atomicfile"
	"protrude/volume"
)

// SeriesDescription is the SeriesDescription of every SEG this package writes.
const SeriesDescription = "Protrude: " + ResearchNotice

// WriteOptions sets the equipment and series attributes of a written SEG.
type WriteOptions struct {
	// SoftwareVersion is the SoftwareVersions value, such as the app's version. It
	// must not be empty, because the element is type 1.
	SoftwareVersion string
	// SeriesNumber is the SeriesNumber of the new series. Zero writes 1000, above
	// the numbers scanners usually give.
	SeriesNumber int
	// Now is the content date and time. The zero value means the current time.
	Now time.Time
}

// frameRef is one frame of the SEG: a slice of a segment.
type frameRef struct {
	segment int // index into the segments slice
	k       int // grid slice
}

// Write writes the segments as one BINARY DICOM SEG at path that refers to src. The
// masks must be on src.Grid, and the segment numbers must be 1, 2, 3 and so on in
// order. The file is written to a temporary file and renamed, so path holds either
// its old content or the whole new file.
func Write(path string, src *Source, segments []Segment, opts WriteOptions) error {
	content, err := encodeSegmentation(src, segments, opts)
	if err == nil {
		err = atomicfile.Write(path, content)
	}
	if err != nil {
		return fmt.Errorf("seg: write %s: %w", path, err)
	}
	return nil
}

// encodeSegmentation returns the content of the SEG file.
func encodeSegmentation(src *Source, segments []Segment, opts WriteOptions) ([]byte, error) {
	if err := checkSegments(src, segments); err != nil {
		return nil, err
	}
	if opts.SoftwareVersion == "" {
		return nil, fmt.Errorf("WriteOptions.SoftwareVersion is empty, but SoftwareVersions (0018,1020) is type 1")
	}
	if opts.SeriesNumber == 0 {
		opts.SeriesNumber = 1000
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	uids := make([]string, 3)
	for n := range uids {
		u, err := newUID()
		if err != nil {
			return nil, err
		}
		uids[n] = u
	}
	sopInstanceUID, seriesInstanceUID, dimensionOrganizationUID := uids[0], uids[1], uids[2]

	frames := framesToWrite(src, segments)
	dimensionOrganization, dimensionIndex := dimensionElements(dimensionOrganizationUID)
	g := src.Grid
	date := opts.Now.Format("20060102")
	clock := opts.Now.Format("150405")

	ds := append([]element(nil), src.copied...)
	ds = append(ds,
		// SOP Common.
		stringElement(tag.SOPClassUID, "UI", SegmentationStorageUID),
		stringElement(tag.SOPInstanceUID, "UI", sopInstanceUID),
		stringElement(tag.InstanceCreationDate, "DA", date),
		stringElement(tag.InstanceCreationTime, "TM", clock),

		// General Series and Segmentation Series.
		stringElement(tag.Modality, "CS", "SEG"),
		stringElement(tag.SeriesInstanceUID, "UI", seriesInstanceUID),
		integerStringElement(tag.SeriesNumber, opts.SeriesNumber),
		stringElement(tag.SeriesDate, "DA", date),
		stringElement(tag.SeriesTime, "TM", clock),
		stringElement(tag.SeriesDescription, "LO", SeriesDescription),

		// General Equipment and Enhanced General Equipment.
		stringElement(tag.Manufacturer, "LO", "Protrude"),
		stringElement(tag.ManufacturerModelName, "LO", "Protrude"),
		stringElement(tag.DeviceSerialNumber, "LO", "0"),
		stringElement(tag.SoftwareVersions, "LO", opts.SoftwareVersion),

		// General Image, Segmentation Image and Multi-frame Functional Groups.
		integerStringElement(tag.InstanceNumber, 1),
		stringElement(tag.ContentDate, "DA", date),
		stringElement(tag.ContentTime, "TM", clock),
		stringElement(tag.ImageType, "CS", "DERIVED", "PRIMARY"),
		stringElement(tag.ContentLabel, "CS", "PROTRUDE"),
		stringElement(tag.ContentDescription, "LO", "Protrude masks. "+ResearchNotice),
		stringElement(tag.ContentCreatorName, "PN"),
		stringElement(tag.SegmentationType, "CS", "BINARY"),
		stringElement(tag.LossyImageCompression, "CS", "00"),
		integerStringElement(tag.NumberOfFrames, len(frames)),

		// Image Pixel.
		uint16Element(tag.SamplesPerPixel, 1),
		stringElement(tag.PhotometricInterpretation, "CS", "MONOCHROME2"),
		uint16Element(tag.Rows, uint16(g.Size[1])),
		uint16Element(tag.Columns, uint16(g.Size[0])),
		uint16Element(tag.BitsAllocated, 1),
		uint16Element(tag.BitsStored, 1),
		uint16Element(tag.HighBit, 0),
		uint16Element(tag.PixelRepresentation, 0),
		bytesElement(tag.PixelData, packFrames(src, segments, frames)),

		segmentSequence(segments),
		dimensionOrganization,
		dimensionIndex,
		stringElement(tag.DimensionOrganizationType, "CS", "3D"),
		sharedFunctionalGroups(src),
		perFrameFunctionalGroups(src, segments, frames),
		referencedSeries(src),
	)
	return encodeFile(SegmentationStorageUID, sopInstanceUID, ds)
}

// checkSegments checks the segment numbers and that every mask is on the source grid.
func checkSegments(src *Source, segments []Segment) error {
	if len(segments) == 0 {
		return fmt.Errorf("no segments to write")
	}
	if src.Grid.Size[0] > 0xffff || src.Grid.Size[1] > 0xffff {
		return fmt.Errorf("image size %d × %d does not fit the 16-bit Rows and Columns: %w", src.Grid.Size[1], src.Grid.Size[0], ErrUnsupported)
	}
	for n, s := range segments {
		if s.Number != n+1 {
			return fmt.Errorf("segment %d (%q) has number %d, want %d: segments are numbered from 1 in order", n, s.Label, s.Number, n+1)
		}
		if strings.TrimSpace(s.Label) == "" {
			return fmt.Errorf("segment %d has an empty label, but SegmentLabel (0062,0005) is type 1", s.Number)
		}
		if s.Mask == nil {
			return fmt.Errorf("segment %d (%q) has no mask", s.Number, s.Label)
		}
		if !sameGrid(s.Mask.Grid, src.Grid) || len(s.Mask.Labels) != src.Grid.NumVoxels() {
			return fmt.Errorf("segment %d (%q) is on grid %+v with %d labels, but the source series is on %+v; masks must be on the source grid",
				s.Number, s.Label, s.Mask.Grid, len(s.Mask.Labels), src.Grid)
		}
	}
	return nil
}

// sameGrid reports whether two grids have the same size and place every voxel
// within 1e-3 mm of each other. Checking the origin, spacing and axes suffices.
func sameGrid(a, b volume.Grid) bool {
	if a.Size != b.Size {
		return false
	}
	const toleranceMM = 1e-3
	for c := 0; c < 3; c++ {
		if math.Abs(a.OriginLPS[c]-b.OriginLPS[c]) > toleranceMM {
			return false
		}
	}
	for axis := 0; axis < 3; axis++ {
		extent := float64(a.Size[axis])
		if math.Abs(a.SpacingMM[axis]-b.SpacingMM[axis])*extent > toleranceMM {
			return false
		}
		for c := 0; c < 3; c++ {
			if math.Abs(a.AxesLPS[axis][c]-b.AxesLPS[axis][c])*a.SpacingMM[axis]*extent > toleranceMM {
				return false
			}
		}
	}
	return true
}

// framesToWrite returns the frames in segment order and slice order. Slices where
// a segment is empty are left out, but a segment with no voxels keeps its slice 0 so
// that every segment has a frame.
func framesToWrite(src *Source, segments []Segment) []frameRef {
	plane := src.Grid.Size[0] * src.Grid.Size[1]
	var frames []frameRef
	for n, s := range segments {
		before := len(frames)
		for k := 0; k < src.Grid.Size[2]; k++ {
			if hasNonzero(s.Mask.Labels[k*plane : (k+1)*plane]) {
				frames = append(frames, frameRef{n, k})
			}
		}
		if len(frames) == before {
			frames = append(frames, frameRef{n, 0})
		}
	}
	return frames
}

func hasNonzero(labels []uint8) bool {
	for _, v := range labels {
		if v != 0 {
			return true
		}
	}
	return false
}

// packFrames returns the pixel data: one bit per pixel, frames one after another
// with no padding between them, and the first pixel in the least significant bit of
// the first byte, as DICOM packs 1-bit samples.
func packFrames(src *Source, segments []Segment, frames []frameRef) []byte {
	plane := src.Grid.Size[0] * src.Grid.Size[1]
	packed := make([]byte, (len(frames)*plane+7)/8)
	bit := 0
	for _, f := range frames {
		labels := segments[f.segment].Mask.Labels[f.k*plane : (f.k+1)*plane]
		for _, v := range labels {
			if v != 0 {
				packed[bit>>3] |= 1 << (bit & 7)
			}
			bit++
		}
	}
	return packed
}

// codeItem returns a code sequence item.
func codeItem(c Code) []element {
	return []element{
		stringElement(tag.CodeValue, "SH", c.Value),
		stringElement(tag.CodingSchemeDesignator, "SH", c.Scheme),
		stringElement(tag.CodeMeaning, "LO", c.Meaning),
	}
}

// segmentSequence returns SegmentSequence with one item per segment.
func segmentSequence(segments []Segment) element {
	items := make([][]element, len(segments))
	for n, s := range segments {
		algorithmType := s.AlgorithmType
		if algorithmType == "" {
			algorithmType = AlgorithmAutomatic
		}
		item := []element{
			uint16Element(tag.SegmentNumber, uint16(s.Number)),
			stringElement(tag.SegmentLabel, "LO", s.Label),
			stringElement(tag.SegmentAlgorithmType, "CS", algorithmType),
			stringElement(tag.SegmentAlgorithmName, "LO", "Protrude"),
			sequenceElement(tag.SegmentedPropertyCategoryCodeSequence, codeItem(s.Category)),
			sequenceElement(tag.SegmentedPropertyTypeCodeSequence, codeItem(s.Type)),
		}
		if s.Description != "" {
			item = append(item, stringElement(tag.SegmentDescription, "ST", s.Description))
		}
		items[n] = item
	}
	return sequenceElement(tag.SegmentSequence, items...)
}

// dimensionElements returns DimensionOrganizationSequence and DimensionIndexSequence:
// frames are indexed by segment number, then by position.
func dimensionElements(organizationUID string) (organization, index element) {
	organization = sequenceElement(tag.DimensionOrganizationSequence,
		[]element{stringElement(tag.DimensionOrganizationUID, "UI", organizationUID)})
	index = sequenceElement(tag.DimensionIndexSequence,
		[]element{
			stringElement(tag.DimensionOrganizationUID, "UI", organizationUID),
			tagElement(tag.DimensionIndexPointer, tag.ReferencedSegmentNumber),
			tagElement(tag.FunctionalGroupPointer, tag.SegmentIdentificationSequence),
			stringElement(tag.DimensionDescriptionLabel, "LO", "Segment Number"),
		},
		[]element{
			stringElement(tag.DimensionOrganizationUID, "UI", organizationUID),
			tagElement(tag.DimensionIndexPointer, tag.ImagePositionPatient),
			tagElement(tag.FunctionalGroupPointer, tag.PlanePositionSequence),
			stringElement(tag.DimensionDescriptionLabel, "LO", "Image Position Patient"),
		})
	return organization, index
}

// sharedFunctionalGroups returns the pixel spacing and orientation, which every
// frame shares.
func sharedFunctionalGroups(src *Source) element {
	g := src.Grid
	thickness := src.sliceThickness
	if thickness == "" {
		thickness = formatDecimalString(g.SpacingMM[2])
	}
	measures := []element{
		// PixelSpacing is the row spacing, then the column spacing.
		decimalElement(tag.PixelSpacing, g.SpacingMM[1], g.SpacingMM[0]),
		stringElement(tag.SliceThickness, "DS", thickness),
		decimalElement(tag.SpacingBetweenSlices, g.SpacingMM[2]),
	}
	orientation := []element{stringElement(tag.ImageOrientationPatient, "DS", src.imageOrientation...)}
	return sequenceElement(tag.SharedFunctionalGroupsSequence, []element{
		sequenceElement(tag.PixelMeasuresSequence, measures),
		sequenceElement(tag.PlaneOrientationSequence, orientation),
	})
}

// Codes for the derivation of each frame from its source image, from the DICOM
// (DCM) coding scheme.
var (
	derivationSegmentation = Code{"113076", "DCM", "Segmentation"}
	purposeSourceImage     = Code{"121322", "DCM", "Source image for image processing operation"}
)

// perFrameFunctionalGroups returns one item per frame with its source image,
// dimension index values, position and segment number.
func perFrameFunctionalGroups(src *Source, segments []Segment, frames []frameRef) element {
	items := make([][]element, len(frames))
	for n, f := range frames {
		slice := src.Slices[f.k]
		sourceImage := []element{
			stringElement(tag.ReferencedSOPClassUID, "UI", slice.SOPClassUID),
			stringElement(tag.ReferencedSOPInstanceUID, "UI", slice.SOPInstanceUID),
			sequenceElement(tag.PurposeOfReferenceCodeSequence, codeItem(purposeSourceImage)),
		}
		derivation := []element{
			sequenceElement(tag.DerivationCodeSequence, codeItem(derivationSegmentation)),
			sequenceElement(tag.SourceImageSequence, sourceImage),
		}
		items[n] = []element{
			sequenceElement(tag.DerivationImageSequence, derivation),
			sequenceElement(tag.FrameContentSequence, []element{
				uint32Element(tag.DimensionIndexValues, uint32(segments[f.segment].Number), uint32(f.k+1)),
			}),
			sequenceElement(tag.PlanePositionSequence, []element{
				stringElement(tag.ImagePositionPatient, "DS", slice.position...),
			}),
			sequenceElement(tag.SegmentIdentificationSequence, []element{
				uint16Element(tag.ReferencedSegmentNumber, uint16(segments[f.segment].Number)),
			}),
		}
	}
	return sequenceElement(tag.PerFrameFunctionalGroupsSequence, items...)
}

// referencedSeries returns ReferencedSeriesSequence (Common Instance Reference
// module), which lists every source image.
func referencedSeries(src *Source) element {
	instances := make([][]element, len(src.Slices))
	for k, s := range src.Slices {
		instances[k] = []element{
			stringElement(tag.ReferencedSOPClassUID, "UI", s.SOPClassUID),
			stringElement(tag.ReferencedSOPInstanceUID, "UI", s.SOPInstanceUID),
		}
	}
	return sequenceElement(tag.ReferencedSeriesSequence, []element{
		sequenceElement(tag.ReferencedInstanceSequence, instances...),
		stringElement(tag.SeriesInstanceUID, "UI", src.SeriesInstanceUID),
	})
}
