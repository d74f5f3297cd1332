package dicomseries

import (
	"fmt"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// readEnhancedFrames returns one slice per frame of a multi-frame image with
// functional groups, such as Enhanced CT Image Storage (1.2.840.10008.5.1.4.1.1.2.1).
// Each frame takes its position from the PlanePositionSequence of its
// PerFrameFunctionalGroupsSequence item. Orientation (PlaneOrientationSequence),
// pixel spacing (PixelMeasuresSequence) and rescale
// (PixelValueTransformationSequence) come from the frame's item when present there,
// else from SharedFunctionalGroupsSequence, else from the top level of the dataset.
func readEnhancedFrames(name string, ds *dicom.Dataset, common *slice) ([]*slice, error) {
	perFrame, err := sequenceItems(ds, tag.PerFrameFunctionalGroupsSequence)
	if err != nil {
		return nil, err
	}
	if len(perFrame) != common.numberOfFrames {
		return nil, fmt.Errorf("%s has %d items, but %s is %d: %w",
			elementName(tag.PerFrameFunctionalGroupsSequence), len(perFrame), elementName(tag.NumberOfFrames), common.numberOfFrames, ErrMalformed)
	}
	var shared *dicom.Dataset
	if items, err := sequenceItems(ds, tag.SharedFunctionalGroupsSequence); err == nil && len(items) > 0 {
		shared = items[0]
	}

	frames := make([]*slice, len(perFrame))
	for n, group := range perFrame {
		s := *common
		s.name = fmt.Sprintf("%s frame %d", name, n+1)
		position, err := macro(group, nil, nil, tag.PlanePositionSequence)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", n+1, err)
		}
		orientation, err := macro(group, shared, nil, tag.PlaneOrientationSequence)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", n+1, err)
		}
		spacing, err := macro(group, shared, ds, tag.PixelMeasuresSequence)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", n+1, err)
		}
		if err := s.readGeometry(position, orientation, spacing); err != nil {
			return nil, fmt.Errorf("frame %d: %w", n+1, err)
		}
		rescale, err := macro(group, shared, ds, tag.PixelValueTransformationSequence)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", n+1, err)
		}
		if err := s.readRescale(rescale); err != nil {
			return nil, fmt.Errorf("frame %d: %w", n+1, err)
		}
		frames[n] = &s
	}
	return frames, nil
}

// macro returns the first item of the functional group macro sequence t from the
// frame's group, else from shared, else fallback. shared and fallback may be nil.
func macro(frame, shared, fallback *dicom.Dataset, t tag.Tag) (*dicom.Dataset, error) {
	for _, group := range []*dicom.Dataset{frame, shared} {
		if group == nil {
			continue
		}
		items, err := sequenceItems(group, t)
		if isMissing(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("%s has no items: %w", elementName(t), ErrMalformed)
		}
		return items[0], nil
	}
	if fallback != nil {
		return fallback, nil
	}
	return nil, fmt.Errorf("%s is %w from the per-frame and shared functional groups", elementName(t), errMissing)
}

// sequenceItems returns the items of sequence t in ds, each as a dataset.
func sequenceItems(ds *dicom.Dataset, t tag.Tag) ([]*dicom.Dataset, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return nil, fmt.Errorf("%s is %w", elementName(t), errMissing)
	}
	items, ok := e.Value.GetValue().([]*dicom.SequenceItemValue)
	if !ok {
		return nil, fmt.Errorf("%s has value type %v, want a sequence: %w", elementName(t), e.Value.ValueType(), ErrMalformed)
	}
	datasets := make([]*dicom.Dataset, len(items))
	for n, item := range items {
		elements, ok := item.GetValue().([]*dicom.Element)
		if !ok {
			return nil, fmt.Errorf("%s item %d has value type %v, want elements: %w", elementName(t), n+1, item.ValueType(), ErrMalformed)
		}
		datasets[n] = &dicom.Dataset{Elements: elements}
	}
	return datasets, nil
}
