package dicomseries

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

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

// slice is one frame of an image: the elements this package uses and the raw pixel
// data bytes. A single-frame file gives one slice, a multi-frame file one per frame.
type slice struct {
	// name identifies the frame in errors: the file name, followed by the frame
	// number for multi-frame files.
	name string
	// path is the file's path, and frameIndex the 0-based frame within the file.
	path       string
	frameIndex int

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
	// sampleShift is HighBit+1-BitsStored: how far the stored bits sit above bit 0.
	sampleShift int
	// numberOfFrames is NumberOfFrames of the file the slice comes from, 1 when
	// absent. readPixelData reads the pixel data of all frames.
	numberOfFrames   int
	rescaleSlope     float64
	rescaleIntercept float64
	hasRescale       bool

	// hasPadding is set when PixelPaddingValue is present. Stored values from
	// paddingLow to paddingHigh (sign-extended like the samples) become paddingHU.
	hasPadding              bool
	paddingLow, paddingHigh int64

	// scanned is the location of the file's pixel data that Scan found by walking
	// the header, or nil when Scan parsed the file otherwise.
	scanned *scannedFile

	transferSyntax string
	// byteOrder is the byte order of pixelData, which holds native samples also
	// for a compressed transfer syntax, decoded by readPixelData.
	byteOrder binary.ByteOrder
	pixelData []byte
}

// scannedFile records a file whose top-level PixelData element Scan found by
// walking the element headers, so that Load can read the pixel data without parsing
// the header again.
type scannedFile struct {
	// pixelDataAt is the byte offset of the PixelData element header.
	pixelDataAt int
	// size and modTime are the file's when Scan read it. Load rejects a file whose
	// size or modification time differs, because its header may have changed.
	size    int64
	modTime time.Time
}

// paddingHU is the value given to padding pixels: air, so that resampling never
// blends a sentinel such as -2000 into tissue.
const paddingHU = -1024

// maxFrames is the largest NumberOfFrames read.
const maxFrames = 1 << 24

// segmentationSOPClass is the SOP Class UID of DICOM Segmentation Storage.
const segmentationSOPClass = "1.2.840.10008.5.1.4.1.1.66.4"

// fileKind classifies a parsed DICOM file.
type fileKind int

const (
	// kindImage is an image with pixel data, which can be part of a volume.
	kindImage fileKind = iota
	// kindSegmentation is a DICOM SEG object: labels, not an image.
	kindSegmentation
	// kindNonImage is an object without pixel data, such as a structured report, an
	// RT plan or a presentation state.
	kindNonImage
)

// parsedFile is one DICOM file: its identity and, for images, its frames.
type parsedFile struct {
	name           string
	kind           fileKind
	sopClassUID    string
	sopInstanceUID string
	seriesUID      string
	modality       string
	transferSyntax string
	// inferredSyntax is the transfer syntax this package inferred because the file
	// has no file meta group or no TransferSyntaxUID, and "" otherwise.
	inferredSyntax    string
	seriesDescription string
	numberOfFrames    int
	// frames are the frames of an image, in file order. When pixelErr is set they
	// carry geometry but no pixel data.
	frames []*slice
	// scanned is set by Scan when it parsed only the header.
	scanned *scannedFile
	// pixelErr wraps ErrUnsupported when the pixel data cannot be decoded, such as
	// for a transfer syntax that package dicomcodec does not decode. The file can
	// still be listed.
	pixelErr error
}

// parseSlice parses a single-frame image file. Tests and the fuzz target use it.
func parseSlice(name string, content []byte) (*slice, error) {
	f, err := parseFile(name, content)
	if err != nil {
		return nil, err
	}
	if err := f.requireImage(); err != nil {
		return nil, err
	}
	if f.pixelErr != nil {
		return nil, fmt.Errorf("%s: %w", name, f.pixelErr)
	}
	if len(f.frames) != 1 {
		return nil, fmt.Errorf("%s: %s is %d, want a single-frame image: %w", name, elementName(tag.NumberOfFrames), len(f.frames), ErrUnsupported)
	}
	return f.frames[0], nil
}

// requireImage returns an error naming the file when it is not an image.
func (f *parsedFile) requireImage() error {
	switch f.kind {
	case kindSegmentation:
		return fmt.Errorf("%s: %s is %s (Segmentation Storage), a segmentation and not an image: %w",
			f.name, elementName(tag.SOPClassUID), f.sopClassUID, ErrUnsupported)
	case kindNonImage:
		return fmt.Errorf("%s: %s is %s and there is no %s, so this is not an image: %w",
			f.name, elementName(tag.SOPClassUID), sopClassName(f.sopClassUID), elementName(tag.PixelData), ErrUnsupported)
	}
	return nil
}

// parseFile parses one DICOM file held in memory. On error, the returned file is
// nil or carries only the identity elements read before the error. Files without preamble or without
// TransferSyntaxUID are read when the transfer syntax can be inferred (see
// toPart10). For images it checks that the frames are single-sample with the
// geometry elements a series needs. name identifies the file in errors.
func parseFile(name string, content []byte) (*parsedFile, error) {
	return parseContent(name, content, false)
}

// parseHeader parses the part of a Part 10 file before its top-level PixelData
// element, for a listing. The frames it returns have no pixel data.
func parseHeader(name string, header []byte) (*parsedFile, error) {
	return parseContent(name, header, true)
}

func parseContent(name string, content []byte, headerOnly bool) (*parsedFile, error) {
	content, inferred, err := toPart10(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
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
	f, err := fileFromDataset(name, &ds, headerOnly)
	if err != nil {
		// f still carries the identity read so far, such as the series.
		return f, fmt.Errorf("%s: %w", name, err)
	}
	f.inferredSyntax = inferred
	return f, nil
}

// fileFromDataset reads the elements this package uses. When headerOnly is set, ds
// ends before the top-level PixelData element, which the caller found, so the
// pixel data are taken as present and not read.
func fileFromDataset(name string, ds *dicom.Dataset, headerOnly bool) (*parsedFile, error) {
	f := &parsedFile{name: name, numberOfFrames: 1}
	var err error
	if f.transferSyntax, err = elementString(ds, tag.TransferSyntaxUID); err != nil {
		return f, err
	}
	f.sopClassUID = optionalString(ds, tag.SOPClassUID)
	f.sopInstanceUID = optionalString(ds, tag.SOPInstanceUID)
	f.seriesUID = optionalString(ds, tag.SeriesInstanceUID)
	f.modality = optionalString(ds, tag.Modality)
	f.seriesDescription = optionalString(ds, tag.SeriesDescription)
	if frames, err := elementInt(ds, tag.NumberOfFrames); err == nil {
		f.numberOfFrames = frames
	}

	// Classify before requiring image elements, so that reports and
	// segmentations are recognised rather than rejected.
	if f.sopClassUID == segmentationSOPClass {
		f.kind = kindSegmentation
		return f, nil
	}
	if _, err := ds.FindElementByTag(tag.PixelData); err != nil && !headerOnly && !isImageStorage(f.sopClassUID) {
		f.kind = kindNonImage
		return f, nil
	}
	// The upper bound keeps frames × rows × columns × 4 bytes within an int64.
	if f.numberOfFrames < 1 || f.numberOfFrames > maxFrames {
		return f, fmt.Errorf("%s is %d, want 1 to %d: %w", elementName(tag.NumberOfFrames), f.numberOfFrames, maxFrames, ErrMalformed)
	}

	// A transfer syntax whose pixel data this package cannot decode still lets the
	// file be listed, so its error is kept and reported when the pixels are needed.
	order, syntaxErr := pixelByteOrder(f.transferSyntax)

	common := &slice{
		seriesUID:         f.seriesUID,
		modality:          f.modality,
		seriesDescription: f.seriesDescription,
		contrastAgent:     optionalString(ds, tag.ContrastBolusAgent),
		numberOfFrames:    f.numberOfFrames,
		transferSyntax:    f.transferSyntax,
		byteOrder:         order,
	}
	if err := common.readPixelFormat(ds); err != nil {
		return f, firstError(syntaxErr, err)
	}
	if err := common.readPadding(ds); err != nil {
		return f, firstError(syntaxErr, err)
	}
	if f.frames, err = readFrames(name, ds, common); err != nil {
		return f, firstError(syntaxErr, err)
	}
	if syntaxErr != nil {
		f.pixelErr = syntaxErr
		return f, nil
	}
	if headerOnly {
		return f, nil
	}

	frameData, err := common.readPixelData(ds)
	if err != nil {
		return f, err
	}
	for n, s := range f.frames {
		s.pixelData = frameData[n]
	}
	return f, nil
}

// isImageStorage reports whether a SOP Class UID is an image storage class, such as
// CT Image Storage, whose instances must have pixel data.
func isImageStorage(sopClassUID string) bool {
	info, err := uid.Lookup(sopClassUID)
	return err == nil && strings.Contains(info.Name, "Image Storage")
}

// firstError returns a when it is set and b otherwise.
func firstError(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// readFrames returns one slice per frame, copies of common with each frame's
// geometry and rescale. Single-frame files take them from the top level, and
// multi-frame files need per-frame functional groups (enhanced CT and MR).
func readFrames(name string, ds *dicom.Dataset, common *slice) ([]*slice, error) {
	if _, err := ds.FindElementByTag(tag.PerFrameFunctionalGroupsSequence); err == nil {
		return readEnhancedFrames(name, ds, common)
	}
	if common.numberOfFrames != 1 {
		return nil, fmt.Errorf("%s is %d and there is no %s, so the frames have no positions; only single-frame images and multi-frame images with per-frame functional groups are read: %w",
			elementName(tag.NumberOfFrames), common.numberOfFrames, elementName(tag.PerFrameFunctionalGroupsSequence), ErrUnsupported)
	}
	s := *common
	s.name = name
	if err := s.readGeometry(ds, ds, ds); err != nil {
		return nil, err
	}
	if err := s.readRescale(ds); err != nil {
		return nil, err
	}
	return []*slice{&s}, nil
}

// readGeometry reads ImagePositionPatient from positionDS, ImageOrientationPatient
// from orientationDS and PixelSpacing, SliceThickness and SpacingBetweenSlices from
// spacingDS. For single-frame images all three are the dataset itself, and for
// enhanced images they are functional group macros.
func (s *slice) readGeometry(positionDS, orientationDS, spacingDS *dicom.Dataset) error {
	position, err := elementFloats(positionDS, tag.ImagePositionPatient, 3)
	if err != nil {
		return err
	}
	orientation, err := elementFloats(orientationDS, tag.ImageOrientationPatient, 6)
	if err != nil {
		return err
	}
	spacing, err := elementFloats(spacingDS, tag.PixelSpacing, 2)
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
	if v, err := elementFloats(spacingDS, tag.SliceThickness, 1); err == nil && v[0] > 0 {
		s.sliceThickness = v[0]
	}
	if v, err := elementFloats(spacingDS, tag.SpacingBetweenSlices, 1); err == nil && v[0] > 0 {
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
	if s.rows <= 0 || s.columns <= 0 || s.rows > math.MaxUint16 || s.columns > math.MaxUint16 {
		return fmt.Errorf("%s is %d and %s is %d, want both from 1 to 65535: %w", elementName(tag.Rows), s.rows, elementName(tag.Columns), s.columns, ErrMalformed)
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
	// Samples occupy bits HighBit-BitsStored+1 to HighBit of each BitsAllocated-bit
	// cell. An absent HighBit is taken to mean BitsStored-1, the low bits.
	if highBit, err := elementInt(ds, tag.HighBit); err == nil {
		if highBit < s.bitsStored-1 || highBit >= s.bitsAllocated {
			return fmt.Errorf("%s is %d with %s %d and %s %d, want %d to %d: %w", elementName(tag.HighBit), highBit,
				elementName(tag.BitsStored), s.bitsStored, elementName(tag.BitsAllocated), s.bitsAllocated, s.bitsStored-1, s.bitsAllocated-1, ErrMalformed)
		}
		s.sampleShift = highBit + 1 - s.bitsStored
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

// readPadding reads PixelPaddingValue and PixelPaddingRangeLimit, which are stored
// values (before rescale) in the same representation as the samples. Without a
// range limit only the padding value itself is padding.
func (s *slice) readPadding(ds *dicom.Dataset) error {
	if e, err := ds.FindElementByTag(tag.PixelPaddingValue); err != nil || e.Value == nil || e.Value.ValueType() == dicom.Ints && len(e.Value.GetValue().([]int)) == 0 {
		// Absent or empty: no padding.
		return nil
	}
	value, err := elementInt(ds, tag.PixelPaddingValue)
	if err != nil {
		return err
	}
	s.hasPadding = true
	s.paddingLow = s.storedValue(uint32(value))
	s.paddingHigh = s.paddingLow
	if limit, err := elementInt(ds, tag.PixelPaddingRangeLimit); err == nil {
		s.paddingHigh = s.storedValue(uint32(limit))
		if s.paddingHigh < s.paddingLow {
			s.paddingLow, s.paddingHigh = s.paddingHigh, s.paddingLow
		}
	} else if !isMissing(err) {
		return err
	}
	return nil
}

// readPixelData returns the pixel data of each of the image's numberOfFrames
// frames as native samples in byteOrder. Native pixel data are returned in place,
// and encapsulated pixel data are decoded by package dicomcodec.
func (s *slice) readPixelData(ds *dicom.Dataset) ([][]byte, error) {
	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil || e.Value == nil {
		return nil, fmt.Errorf("%s is %w", elementName(tag.PixelData), errMissing)
	}
	info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return nil, fmt.Errorf("%s has value type %v: %w", elementName(tag.PixelData), e.Value.ValueType(), ErrMalformed)
	}
	if _, native := nativeTransferSyntaxes[s.transferSyntax]; !native {
		return decodeFrames(s.transferSyntax, info, s.numberOfFrames, s.codecFormat())
	}

	if info.IsEncapsulated {
		return nil, fmt.Errorf("%s is encapsulated (compressed) although the transfer syntax is native: %w", elementName(tag.PixelData), ErrMalformed)
	}
	frameBytes := s.rows * s.columns * s.bitsAllocated / 8
	need := s.numberOfFrames * frameBytes
	if len(info.UnprocessedValueData) < need {
		frames := ""
		if s.numberOfFrames > 1 {
			frames = fmt.Sprintf(" × %d frames", s.numberOfFrames)
		}
		return nil, fmt.Errorf("%s is %d bytes, but %d rows × %d columns%s × %d bits need %d: %w",
			elementName(tag.PixelData), len(info.UnprocessedValueData), s.rows, s.columns, frames, s.bitsAllocated, need, ErrMalformed)
	}
	data := make([][]byte, s.numberOfFrames)
	for n := range data {
		data[n] = info.UnprocessedValueData[n*frameBytes : (n+1)*frameBytes]
	}
	return data, nil
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
// parser returns them unsigned. Padding values become paddingHU.
func (s *slice) decodeInto(out []float32) {
	if s.bitsAllocated == 16 && s.bitsStored == 16 && s.byteOrder == binary.LittleEndian {
		s.decode16LE(out)
		return
	}
	bytesPerSample := s.bitsAllocated / 8
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
		stored := s.storedValue(raw >> s.sampleShift)
		if s.hasPadding && stored >= s.paddingLow && stored <= s.paddingHigh {
			out[n] = paddingHU
			continue
		}
		out[n] = float32(float64(stored)*s.rescaleSlope + s.rescaleIntercept)
	}
}

// decode16LE is decodeInto for 16-bit samples with all 16 bits stored in little
// endian, the common CT layout. A 16-bit sample has only 65,536 possible values, so
// it maps each one to HU once, in a table that slices with the same parameters
// share, and then decodes a sample with one table lookup. The table contains exactly
// the values the per-sample formula gives, so the result does not change.
func (s *slice) decode16LE(out []float32) {
	data := s.pixelData[:2*len(out)]
	table := cachedTable16(&lastTable16, s.table16Key(), func(hu float64) float32 { return float32(hu) })
	for n := range out {
		out[n] = table[uint16(data[2*n])|uint16(data[2*n+1])<<8]
	}
}

// decodeInt16Into is decodeInto for int16 output, which holds the same values when
// the rescale slope is 1 and the intercept an integer (see Stack.checkInt16). It
// returns an error wrapping ErrNotInt16 when a value lies outside the int16 range,
// and out then holds wrapped values.
func (s *slice) decodeInt16Into(out []int16) error {
	// outside gets bits above bit 15 set when a value v lies outside the int16 range,
	// because v+32768 then lies outside 0 to 65535. Values are far from the int32
	// limits, because samples have at most 16 bits and |intercept| ≤ maxInt16Intercept.
	var outside int32
	switch {
	case s.bitsAllocated == 16 && s.bitsStored == 16 && s.byteOrder == binary.LittleEndian && !s.hasPadding:
		// The common CT layout: one load and one addition per sample, with no branch
		// and no table. Separate loops for signed and unsigned samples keep the test
		// out of the loop body.
		data := s.pixelData[:2*len(out)]
		intercept := int32(s.rescaleIntercept)
		if s.pixelRepresentation == 1 {
			for n := range out {
				v := int32(int16(binary.LittleEndian.Uint16(data[2*n:]))) + intercept
				outside |= (v + 32768) &^ 0xffff
				out[n] = int16(v)
			}
		} else {
			for n := range out {
				v := int32(binary.LittleEndian.Uint16(data[2*n:])) + intercept
				outside |= (v + 32768) &^ 0xffff
				out[n] = int16(v)
			}
		}
	case s.bitsAllocated == 16 && s.bitsStored == 16 && s.byteOrder == binary.LittleEndian:
		data := s.pixelData[:2*len(out)]
		table := cachedTable16(&lastTableInt16, s.table16Key(), func(hu float64) int32 { return int32(hu) })
		for n := range out {
			v := table[uint16(data[2*n])|uint16(data[2*n+1])<<8]
			outside |= (v + 32768) &^ 0xffff
			out[n] = int16(v)
		}
	default:
		bytesPerSample := s.bitsAllocated / 8
		intercept := int32(s.rescaleIntercept)
		for n := range out {
			var raw uint32
			if bytesPerSample == 1 {
				raw = uint32(s.pixelData[n])
			} else {
				raw = uint32(s.byteOrder.Uint16(s.pixelData[2*n:]))
			}
			stored := s.storedValue(raw >> s.sampleShift)
			v := int32(paddingHU)
			if !s.hasPadding || stored < s.paddingLow || stored > s.paddingHigh {
				v = int32(stored) + intercept
			}
			outside |= (v + 32768) &^ 0xffff
			out[n] = int16(v)
		}
	}
	if outside != 0 {
		return fmt.Errorf("a value lies outside -32768 to 32767: %w", ErrNotInt16)
	}
	return nil
}

// maxInt16Intercept is the largest |RescaleIntercept| that the int16 path accepts.
// Larger intercepts put every 16-bit sample outside the int16 range.
const maxInt16Intercept = 1 << 16

// table16Key is the set of parameters that decide the HU of a 16-bit sample.
type table16Key struct {
	signed                  bool
	slope, intercept        float64
	hasPadding              bool
	paddingLow, paddingHigh int64
}

func (s *slice) table16Key() table16Key {
	return table16Key{
		signed: s.pixelRepresentation == 1, slope: s.rescaleSlope, intercept: s.rescaleIntercept,
		hasPadding: s.hasPadding, paddingLow: s.paddingLow, paddingHigh: s.paddingHigh,
	}
}

// huOf returns the HU of the 16-bit sample raw, as decodeInto computes it.
func (key table16Key) huOf(raw int) float64 {
	stored := int64(raw)
	if key.signed {
		stored = int64(int16(raw))
	}
	if key.hasPadding && stored >= key.paddingLow && stored <= key.paddingHigh {
		return paddingHU
	}
	return float64(stored)*key.slope + key.intercept
}

// table16Entry is a lookup table from 16-bit samples to values and the parameters
// it was built for.
type table16Entry[T float32 | int32] struct {
	key   table16Key
	table [1 << 16]T
}

// lastTable16 and lastTableInt16 are the tables most recently built. The slices of
// a series share their parameters, so one table usually serves the whole series.
var (
	lastTable16    atomic.Pointer[table16Entry[float32]]
	lastTableInt16 atomic.Pointer[table16Entry[int32]]
)

// cachedTable16 returns convert(key.huOf(raw)) for every 16-bit sample raw, from
// the table in cache when it was built for key, else from a new table that it stores
// there.
func cachedTable16[T float32 | int32](cache *atomic.Pointer[table16Entry[T]], key table16Key, convert func(hu float64) T) *[1 << 16]T {
	if e := cache.Load(); e != nil && e.key == key {
		return &e.table
	}
	e := &table16Entry[T]{key: key}
	for raw := range 1 << 16 {
		e.table[raw] = convert(key.huOf(raw))
	}
	cache.Store(e)
	return &e.table
}

// storedValue keeps the low BitsStored bits of raw and sign-extends them when
// PixelRepresentation is 1.
func (s *slice) storedValue(raw uint32) int64 {
	mask := uint32(1)<<s.bitsStored - 1
	if s.bitsStored >= 32 {
		mask = math.MaxUint32
	}
	raw &= mask
	stored := int64(raw)
	if s.pixelRepresentation == 1 && s.bitsStored > 0 && raw&(uint32(1)<<(s.bitsStored-1)) != 0 {
		stored -= int64(mask) + 1
	}
	return stored
}

// isMissing reports whether err is about an absent or empty element.
func isMissing(err error) bool { return errors.Is(err, errMissing) }
