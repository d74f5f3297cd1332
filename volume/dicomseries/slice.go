package dicomseries

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"protrude/volume"
	"protrude/volume/dicomcodec"
)

// nativeTransferSyntaxes are the transfer syntaxes whose pixel data this package
// reads, with the byte order of the pixel data. Deflate compresses the whole dataset,
// and the DICOM parser inflates it, so its pixel data are native too.
var nativeTransferSyntaxes = map[string]binary.ByteOrder{
	uid.ImplicitVRLittleEndian:         binary.LittleEndian,
	uid.ExplicitVRLittleEndian:         binary.LittleEndian,
	uid.ExplicitVRBigEndian:            binary.BigEndian,
	uid.DeflatedExplicitVRLittleEndian: binary.LittleEndian,
}

// slice is one single-frame image of a series: the elements this package uses and
// the raw pixel data bytes.
type slice struct {
	name string

	seriesUID         string
	modality          string
	seriesDescription string
	contrastAgent     string

	// positionLPS is ImagePositionPatient: the centre of the first pixel, in mm.
	positionLPS volume.Vec3
	// orientation is ImageOrientationPatient: the row cosine (direction of increasing
	// column index) followed by the column cosine.
	orientation [6]float64
	// pixelSpacing is PixelSpacing: the spacing between rows, then between columns.
	pixelSpacing [2]float64
	// sliceThickness and spacingBetweenSlices are 0 when absent.
	sliceThickness       float64
	spacingBetweenSlices float64

	rows, columns       int
	bitsAllocated       int
	bitsStored          int
	pixelRepresentation int
	rescaleSlope        float64
	rescaleIntercept    float64
	hasRescale          bool

	transferSyntax string
	// byteOrder is the byte order of pixelData, which holds native samples also
	// for a compressed transfer syntax, decoded by readPixelData.
	byteOrder binary.ByteOrder
	pixelData []byte
}

// parseSlice parses one DICOM Part 10 file held in memory and checks that it is a
// single-frame, single-sample image with native pixel data and the geometry elements
// a series needs. name identifies the file in errors.
func parseSlice(name string, content []byte) (*slice, error) {
	if !hasDICMPrefix(content) {
		return nil, fmt.Errorf("%s: no \"DICM\" marker at byte 128, so this is not a DICOM Part 10 file (files without the file meta header are not read): %w", name, ErrMalformed)
	}
	if err := checkElementLengths(content); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if syntax, ok := metaTransferSyntax(content); ok {
		if _, err := uid.Lookup(syntax); err != nil {
			return nil, fmt.Errorf("%s: %s is %s, which is not a DICOM transfer syntax, so the pixel data cannot be decoded: %w",
				name, elementName(tag.TransferSyntaxUID), syntax, ErrUnsupported)
		}
	}
	ds, err := parseDataset(content, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := sliceFromDataset(&ds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.name = name
	return s, nil
}

func sliceFromDataset(ds *dicom.Dataset) (*slice, error) {
	s := &slice{}

	// The transfer syntax decides whether the pixel data can be read at all.
	syntax, err := elementString(ds, tag.TransferSyntaxUID)
	if err != nil {
		return nil, err
	}
	if s.byteOrder, err = pixelByteOrder(syntax); err != nil {
		return nil, err
	}
	s.transferSyntax = syntax

	if s.seriesUID, err = elementString(ds, tag.SeriesInstanceUID); err != nil {
		return nil, err
	}
	s.modality = optionalString(ds, tag.Modality)
	s.seriesDescription = optionalString(ds, tag.SeriesDescription)
	s.contrastAgent = optionalString(ds, tag.ContrastBolusAgent)

	if frames, err := elementInt(ds, tag.NumberOfFrames); err == nil && frames != 1 {
		return nil, fmt.Errorf("%s is %d; only single-frame images are read: %w", elementName(tag.NumberOfFrames), frames, ErrUnsupported)
	}
	if err := s.readGeometry(ds); err != nil {
		return nil, err
	}
	if err := s.readPixelFormat(ds); err != nil {
		return nil, err
	}
	if err := s.readRescale(ds); err != nil {
		return nil, err
	}
	if err := s.readPixelData(ds); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *slice) readGeometry(ds *dicom.Dataset) error {
	position, err := elementFloats(ds, tag.ImagePositionPatient, 3)
	if err != nil {
		return err
	}
	orientation, err := elementFloats(ds, tag.ImageOrientationPatient, 6)
	if err != nil {
		return err
	}
	spacing, err := elementFloats(ds, tag.PixelSpacing, 2)
	if err != nil {
		return err
	}
	copy(s.positionLPS[:], position)
	copy(s.orientation[:], orientation)
	copy(s.pixelSpacing[:], spacing)

	for _, v := range append(position, orientation...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s %v or %s %v is not finite: %w", elementName(tag.ImagePositionPatient), position, elementName(tag.ImageOrientationPatient), orientation, ErrMalformed)
		}
	}
	for _, v := range spacing {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%s is %v, want two finite values > 0: %w", elementName(tag.PixelSpacing), spacing, ErrMalformed)
		}
	}

	// Slice thickness and spacing only matter for a series of one image.
	if v, err := elementFloats(ds, tag.SliceThickness, 1); err == nil && v[0] > 0 {
		s.sliceThickness = v[0]
	}
	if v, err := elementFloats(ds, tag.SpacingBetweenSlices, 1); err == nil && v[0] > 0 {
		s.spacingBetweenSlices = v[0]
	}
	return nil
}

func (s *slice) readPixelFormat(ds *dicom.Dataset) error {
	var err error
	if s.rows, err = elementInt(ds, tag.Rows); err != nil {
		return err
	}
	if s.columns, err = elementInt(ds, tag.Columns); err != nil {
		return err
	}
	if s.rows <= 0 || s.columns <= 0 {
		return fmt.Errorf("%s is %d and %s is %d, want both > 0: %w", elementName(tag.Rows), s.rows, elementName(tag.Columns), s.columns, ErrMalformed)
	}

	samples, err := elementInt(ds, tag.SamplesPerPixel)
	if err != nil {
		return err
	}
	if samples != 1 {
		return fmt.Errorf("%s is %d; only grey-scale images (1 sample per pixel) are read: %w", elementName(tag.SamplesPerPixel), samples, ErrUnsupported)
	}
	if photometric := optionalString(ds, tag.PhotometricInterpretation); photometric != "" && !strings.HasPrefix(photometric, "MONOCHROME") {
		return fmt.Errorf("%s is %q; only MONOCHROME1 and MONOCHROME2 images are read: %w", elementName(tag.PhotometricInterpretation), photometric, ErrUnsupported)
	}

	if s.bitsAllocated, err = elementInt(ds, tag.BitsAllocated); err != nil {
		return err
	}
	if s.bitsAllocated != 8 && s.bitsAllocated != 16 && s.bitsAllocated != 32 {
		return fmt.Errorf("%s is %d; only 8, 16 and 32 bits are read: %w", elementName(tag.BitsAllocated), s.bitsAllocated, ErrUnsupported)
	}
	if s.bitsStored, err = elementInt(ds, tag.BitsStored); err != nil {
		return err
	}
	if s.bitsStored < 1 || s.bitsStored > s.bitsAllocated {
		return fmt.Errorf("%s is %d with %s %d, want 1 to %d: %w", elementName(tag.BitsStored), s.bitsStored, elementName(tag.BitsAllocated), s.bitsAllocated, s.bitsAllocated, ErrMalformed)
	}
	// Samples are read from the low BitsStored bits, which is where HighBit =
	// BitsStored-1 puts them. An absent HighBit is taken to mean the same.
	if highBit, err := elementInt(ds, tag.HighBit); err == nil && highBit != s.bitsStored-1 {
		return fmt.Errorf("%s is %d with %s %d; only samples in the low bits (HighBit = BitsStored-1) are read: %w", elementName(tag.HighBit), highBit, elementName(tag.BitsStored), s.bitsStored, ErrUnsupported)
	}
	if s.pixelRepresentation, err = elementInt(ds, tag.PixelRepresentation); err != nil {
		return err
	}
	if s.pixelRepresentation != 0 && s.pixelRepresentation != 1 {
		return fmt.Errorf("%s is %d, want 0 (unsigned) or 1 (signed): %w", elementName(tag.PixelRepresentation), s.pixelRepresentation, ErrMalformed)
	}
	return nil
}

// readRescale reads RescaleSlope and RescaleIntercept. CT images must have both,
// because without them the stored values are not Hounsfield units. Other modalities
// may omit both, which means slope 1 and intercept 0.
func (s *slice) readRescale(ds *dicom.Dataset) error {
	slope, slopeErr := elementFloats(ds, tag.RescaleSlope, 1)
	intercept, interceptErr := elementFloats(ds, tag.RescaleIntercept, 1)
	switch {
	case slopeErr == nil && interceptErr == nil:
		s.rescaleSlope, s.rescaleIntercept, s.hasRescale = slope[0], intercept[0], true
	case s.modality != "CT" && isMissing(slopeErr) && isMissing(interceptErr):
		s.rescaleSlope, s.rescaleIntercept = 1, 0
		return nil
	case slopeErr != nil:
		return slopeErr
	default:
		return interceptErr
	}
	if s.rescaleSlope == 0 || math.IsNaN(s.rescaleSlope) || math.IsInf(s.rescaleSlope, 0) || math.IsNaN(s.rescaleIntercept) || math.IsInf(s.rescaleIntercept, 0) {
		return fmt.Errorf("%s is %g and %s is %g, want a finite non-zero slope and a finite intercept: %w",
			elementName(tag.RescaleSlope), s.rescaleSlope, elementName(tag.RescaleIntercept), s.rescaleIntercept, ErrMalformed)
	}
	// Stored samples have at most 32 bits, so this bound keeps every rescaled value a
	// finite float32.
	if math.Abs(s.rescaleSlope)*(1<<32)+math.Abs(s.rescaleIntercept) > math.MaxFloat32 {
		return fmt.Errorf("%s is %g and %s is %g, so rescaled values overflow 32-bit floats: %w",
			elementName(tag.RescaleSlope), s.rescaleSlope, elementName(tag.RescaleIntercept), s.rescaleIntercept, ErrMalformed)
	}
	return nil
}

func (s *slice) readPixelData(ds *dicom.Dataset) error {
	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil || e.Value == nil {
		return fmt.Errorf("%s is %w", elementName(tag.PixelData), errMissing)
	}
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return fmt.Errorf("%s has value type %v: %w", elementName(tag.PixelData), e.Value.ValueType(), ErrMalformed)
	}
	if _, native := nativeTransferSyntaxes[s.transferSyntax]; !native {
		frames, err := decodeFrames(s.transferSyntax, info, 1, s.codecFormat())
		if err != nil {
			return err
		}
		s.pixelData = frames[0]
		return nil
	}
	if info.IsEncapsulated {
		return fmt.Errorf("%s is encapsulated (compressed) although the transfer syntax is native: %w", elementName(tag.PixelData), ErrMalformed)
	}
	need := s.rows * s.columns * s.bitsAllocated / 8
	if len(info.UnprocessedValueData) < need {
		return fmt.Errorf("%s is %d bytes, but %d rows × %d columns × %d bits need %d: %w",
			elementName(tag.PixelData), len(info.UnprocessedValueData), s.rows, s.columns, s.bitsAllocated, need, ErrMalformed)
	}
	s.pixelData = info.UnprocessedValueData[:need]
	return nil
}

// codecFormat returns the pixel description that package dicomcodec needs.
func (s *slice) codecFormat() dicomcodec.Format {
	return dicomcodec.Format{
		Rows:                s.rows,
		Columns:             s.columns,
		SamplesPerPixel:     1,
		BitsAllocated:       s.bitsAllocated,
		BitsStored:          s.bitsStored,
		PixelRepresentation: s.pixelRepresentation,
	}
}

// decodeInto converts the stored samples to rescaled values, row by row with columns
// fastest, into out, which must have rows*columns elements. Signed samples
// (PixelRepresentation 1) are sign-extended from BitsStored bits, because the DICOM
// parser returns them unsigned.
func (s *slice) decodeInto(out []float32) {
	bytesPerSample := s.bitsAllocated / 8
	mask := uint32(1)<<s.bitsStored - 1
	if s.bitsStored == 32 {
		mask = math.MaxUint32
	}
	signBit := uint32(1) << (s.bitsStored - 1)
	for n := range out {
		var raw uint32
		switch bytesPerSample {
		case 1:
			raw = uint32(s.pixelData[n])
		case 2:
			raw = uint32(s.byteOrder.Uint16(s.pixelData[2*n:]))
		case 4:
			raw = s.byteOrder.Uint32(s.pixelData[4*n:])
		}
		raw &= mask

		stored := int64(raw)
		if s.pixelRepresentation == 1 && raw&signBit != 0 {
			stored -= int64(mask) + 1
		}
		out[n] = float32(float64(stored)*s.rescaleSlope + s.rescaleIntercept)
	}
}

// isMissing reports whether err is about an absent or empty element.
func isMissing(err error) bool { return errors.Is(err, errMissing) }
