// Package seg writes and reads Protrude's masks as a DICOM Segmentation (SEG) that
// refers to the source CT series, and as a NIfTI label map.
//
// # DICOM SEG
//
// [Write] produces one multi-frame BINARY Segmentation Storage instance (SOP Class
// 1.2.840.10008.5.1.4.1.1.66.4) in explicit VR little endian. Each mask is its own
// segment, so segments may overlap. A frame is one slice of one segment. Frames
// come in segment order and, within a segment, in slice order along the grid's k
// axis. Each frame carries its slice's ImagePositionPatient in
// PlanePositionSequence, the source slice's SOP Instance UID in
// DerivationImageSequence/SourceImageSequence and its segment number in
// SegmentIdentificationSequence. The Patient and General Study attributes and the
// FrameOfReferenceUID are copied from the source series, and new UIDs come from the
// UUID-derived root 2.25.
//
// Empty slices are omitted, because most slices of a kidney segmentation are
// empty. A segment with no voxels at all keeps one empty frame on the grid's first
// slice, so that every segment in SegmentSequence has a frame and the file is never
// without frames.
//
// [Read] maps each frame back onto the grid of the series it refers to, by its
// ImagePositionPatient, or by its referenced SOP Instance UID when the frame has no
// position.
//
// # NIfTI label map
//
// [WriteLabelMap] writes one uint8 NIfTI file with 0 background, 1 kidney, 2
// protruded region and 3 tumor. Where layers overlap, tumor wins over protruded
// region and protruded region over kidney, so a tumor voxel inside the kidney reads
// 3. [ReadLabelMap] therefore returns disjoint layers.
//
// # Coordinates
//
// Masks are on a [volume.Grid] in LPS patient space, with voxel index i along the
// image columns, j along the rows and k across slices, as package dicomseries reads
// a series. Frame pixel (row r, column c) of slice k is voxel (c, r, k).
//
// # Limits
//
// The writer takes single-frame source images that all belong to one series. The
// reader handles BINARY segmentations in implicit or explicit VR little endian. It
// rejects other transfer syntaxes, compressed pixel data, FRACTIONAL and LABELMAP
// segmentations, more than 1000 segments and sequences nested more than 32 levels
// deep with [ErrUnsupported].
package seg

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	"protrude/volume"
)

var (
	// ErrMalformed marks a file that breaks the DICOM standard or does not match the
	// series it refers to.
	ErrMalformed = errors.New("malformed DICOM file")
	// ErrUnsupported marks a valid file that uses a feature this package does not
	// handle, such as a FRACTIONAL segmentation.
	ErrUnsupported = errors.New("unsupported DICOM file")
)

// SegmentationStorageUID is the SOP Class UID of Segmentation Storage.
const SegmentationStorageUID = "1.2.840.10008.5.1.4.1.1.66.4"

// ResearchNotice is written into every file this package creates.
const ResearchNotice = "Research use only, not for clinical use"

// implementationClassUID identifies files written by this package. It is a fixed
// UUID-derived UID, made once for Protrude.
const implementationClassUID = "2.25.92688288024672761582757185464702028291"

// implementationVersionName is the ImplementationVersionName (SH, at most 16 bytes).
const implementationVersionName = "PROTRUDE_SEG_1"

// Code is a coded concept: (code value, coding scheme designator, code meaning).
type Code struct {
	Value, Scheme, Meaning string
}

// SNOMED CT codes for the segmented properties.
var (
	categoryAnatomicalStructure    = Code{"91723000", "SCT", "Anatomical Structure"}
	categoryMorphologicallyAltered = Code{"49755003", "SCT", "Morphologically Altered Structure"}
	typeKidney                     = Code{"64033007", "SCT", "Kidney"}
	typeNeoplasm                   = Code{"108369006", "SCT", "Neoplasm"}
	typeMass                       = Code{"4147007", "SCT", "Mass"}
)

// Segment is one mask of a segmentation with its description.
type Segment struct {
	// Number is the SegmentNumber, from 1.
	Number int
	// Label is the SegmentLabel, such as "Kidney".
	Label string
	// Description is the SegmentDescription. It may be empty.
	Description string
	// Category and Type are the SegmentedPropertyCategoryCodeSequence and
	// SegmentedPropertyTypeCodeSequence codes.
	Category, Type Code
	// Mask is on the source grid. Every nonzero label is inside the segment.
	Mask *volume.Mask
	// AlgorithmType is the SegmentAlgorithmType: AlgorithmAutomatic (also when
	// empty) for a network's output, AlgorithmSemiautomatic for one edited by hand.
	AlgorithmType string
}

// SegmentAlgorithmType values (PS3.3 C.8.20.2).
const (
	AlgorithmAutomatic     = "AUTOMATIC"
	AlgorithmSemiautomatic = "SEMIAUTOMATIC"
)

// Layers are the masks that Protrude produces for one CT, all on its grid.
type Layers struct {
	Kidney *volume.Mask
	// Protrusion is the region of the kidney that protrudes from its expected outline.
	Protrusion *volume.Mask
	// Tumor is the fused tumor mask.
	Tumor *volume.Mask
	// BaseTumor is the base network's tumor mask before fusion. It is optional (nil).
	BaseTumor *volume.Mask
}

// Segment labels of the layers. [LayersFromSegments] matches segments by these.
const (
	LabelKidney     = "Kidney"
	LabelProtrusion = "Protruded region"
	LabelTumor      = "Tumor"
	LabelBaseTumor  = "Tumor (base network)"
)

// Segments returns the layers as segments 1 (kidney), 2 (protruded region), 3 (tumor)
// and, when BaseTumor is set, 4 (base network tumor).
func (l Layers) Segments() []Segment {
	segments := []Segment{
		{1, LabelKidney, "Kidney, including any tumor inside it", categoryAnatomicalStructure, typeKidney, l.Kidney, ""},
		{2, LabelProtrusion, "Kidney region that protrudes from its expected outline", categoryMorphologicallyAltered, typeMass, l.Protrusion, ""},
		{3, LabelTumor, "Kidney tumor found by the fusion network", categoryMorphologicallyAltered, typeNeoplasm, l.Tumor, ""},
	}
	if l.BaseTumor != nil {
		segments = append(segments, Segment{4, LabelBaseTumor, "Kidney tumor found by the base network alone, before fusion", categoryMorphologicallyAltered, typeNeoplasm, l.BaseTumor, ""})
	}
	return segments
}

// LayersFromSegments matches segments to layers by label. Kidney, protruded region
// and tumor must be present; the base network tumor is optional. Two segments with
// the label of one layer are an error, because only one of them could be kept.
// Segments with other labels are ignored.
func LayersFromSegments(segments []Segment) (Layers, error) {
	var l Layers
	layerSegment := make(map[string]int)
	for _, s := range segments {
		var layer **volume.Mask
		switch s.Label {
		case LabelKidney:
			layer = &l.Kidney
		case LabelProtrusion:
			layer = &l.Protrusion
		case LabelTumor:
			layer = &l.Tumor
		case LabelBaseTumor:
			layer = &l.BaseTumor
		default:
			continue
		}
		if first, dup := layerSegment[s.Label]; dup {
			return Layers{}, fmt.Errorf("seg: segments %d and %d both have SegmentLabel %q, but each Protrude layer comes from one segment, so relabel or remove one of them", first, s.Number, s.Label)
		}
		layerSegment[s.Label] = s.Number
		*layer = s.Mask
	}
	for _, required := range []struct {
		label string
		mask  *volume.Mask
	}{{LabelKidney, l.Kidney}, {LabelProtrusion, l.Protrusion}, {LabelTumor, l.Tumor}} {
		if required.mask == nil {
			return Layers{}, fmt.Errorf("seg: no segment has SegmentLabel %q; the file was not written by Protrude", required.label)
		}
	}
	return l, nil
}

// newUID returns a UID under the root 2.25 made from a random (version 4) UUID
// written as one decimal number.
func newUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("seg: make a UID: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return "2.25." + new(big.Int).SetBytes(u[:]).String(), nil
}
