package dicomseries

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

func ssElement(t tag.Tag, v int16) rawElement {
	return rawElement{tag: t, vr: "SS", value: binary.LittleEndian.AppendUint16(nil, uint16(v))}
}

func isElement(t tag.Tag, v int) rawElement { return textElement(t, "IS", strconv.Itoa(v)) }

// sequenceElement encodes a defined-length sequence whose items hold the given
// elements.
func sequenceElement(t tag.Tag, items ...[]rawElement) rawElement {
	var value []byte
	for _, item := range items {
		encoded := encodeElements(item)
		value = append(value, itemHeader(0xe000, uint32(len(encoded)))...)
		value = append(value, encoded...)
	}
	return rawElement{tag: t, vr: "SQ", value: value}
}

// linearSpec returns a rows × columns image at height z whose HU value at pixel n is
// z + 0.1 n, so that linear interpolation along z has an exact expected value.
func linearSpec(z float64, rows, columns int) sliceSpec {
	s := newSliceSpec(z)
	s.rows, s.columns = rows, columns
	s.slope, s.intercept = 0.1, 0
	s.stored = make([]int16, rows*columns)
	for n := range s.stored {
		s.stored[n] = int16(math.Round(z*10)) + int16(n)
	}
	return s
}

// requireNear fails when got and want differ by more than tolerance.
func requireNear(t *testing.T, what string, got, want, tolerance float64) {
	t.Helper()
	if math.Abs(got-want) > tolerance {
		t.Fatalf("%s = %.6g, want %.6g (tolerance %g)", what, got, want, tolerance)
	}
}

func TestReadDirInstanceNumberAgainstZ(t *testing.T) {
	// InstanceNumber rises while z falls, and file names follow InstanceNumber, so
	// only the positions give the right order.
	heights := []float64{12, 9, 6, 3, 0}
	specs := stack(heights...)
	for n := range specs {
		specs[n].replace = []rawElement{isElement(tag.InstanceNumber, n+1)}
	}
	v, _, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	if v.OriginLPS[2] != 0 || v.AxesLPS[2] != (volume.Vec3{0, 0, 1}) || v.SpacingMM[2] != 3 {
		t.Errorf("grid %+v, want origin at z = 0, slice axis +z and spacing 3", v.Grid)
	}
	for k := 0; k < 5; k++ {
		want := float32(newSliceSpec(float64(3 * k)).stored[0]) - 1024
		if got := v.At(0, 0, k); got != want {
			t.Errorf("voxel (0, 0, %d) = %v, want %v from the slice at z = %d", k, got, want, 3*k)
		}
	}
}

func TestReadDirShuffledFiles(t *testing.T) {
	heights := make([]float64, 12)
	for n := range heights {
		heights[n] = 1.25 * float64(n)
	}
	rand.New(rand.NewSource(7)).Shuffle(len(heights), func(a, b int) { heights[a], heights[b] = heights[b], heights[a] })
	v, info, err := ReadDir(writeSeries(t, stack(heights...)))
	if err != nil {
		t.Fatal(err)
	}
	if v.Size[2] != 12 || v.SpacingMM[2] != 1.25 || len(info.Warnings) != 0 {
		t.Errorf("size %v, spacing %v, warnings %q; want 12 slices 1.25 mm apart and no warnings", v.Size, v.SpacingMM, info.Warnings)
	}
	for k := 0; k < 12; k++ {
		want := float32(newSliceSpec(1.25 * float64(k)).stored[5]) - 1024
		if got := v.At(1, 1, k); got != want {
			t.Errorf("voxel (1, 1, %d) = %v, want %v", k, got, want)
		}
	}
}

func TestReadDirGapFilledWithAir(t *testing.T) {
	// Ten slices 1.6 mm apart, a 182 mm gap, ten more slices.
	var specs []sliceSpec
	for k := 0; k < 10; k++ {
		specs = append(specs, linearSpec(1.6*float64(k), 3, 4))
	}
	afterGap := 1.6*9 + 182
	for k := 0; k < 10; k++ {
		specs = append(specs, linearSpec(afterGap+1.6*float64(k), 3, 4))
	}
	v, info, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}

	requireNear(t, "slice spacing", v.SpacingMM[2], 1.6, 1e-9)
	if v.Size[2] != 132 {
		t.Errorf("%d slices, want 132 (210.8 mm / 1.6 mm + 1, rounded down)", v.Size[2])
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "gap of 182 mm") || !strings.Contains(info.Warnings[0], "about 113 slices in the gap were filled with air (-1024 HU)") {
		t.Errorf("warnings = %q, want one about the 182 mm gap", info.Warnings)
	}
	airSlices := 0
	for k := 0; k < v.Size[2]; k++ {
		z := 1.6 * float64(k)
		inGap := z > 1.6*9+1e-6 && z < afterGap-1e-6
		if inGap {
			airSlices++
		}
		for n := 0; n < 12; n++ {
			got := float64(v.At(n%4, n/4, k))
			want := z + 0.1*float64(n)
			if inGap {
				want = paddingHU
			}
			requireNear(t, fmt.Sprintf("voxel %d of slice %d at z = %.1f", n, k, z), got, want, 1e-3)
		}
	}
	if airSlices != 113 {
		t.Errorf("%d air slices, want 113", airSlices)
	}
}

func TestReadDirSpacingJitter(t *testing.T) {
	var specs []sliceSpec
	for k := 0; k < 8; k++ {
		jitter := 3e-15
		if k%2 == 1 {
			jitter = -3e-15
		}
		specs = append(specs, linearSpec(1.6*float64(k)+jitter, 3, 4))
	}
	v, info, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Warnings) != 0 {
		t.Errorf("warnings = %q, want none: 3e-15 mm of jitter is uniform spacing", info.Warnings)
	}
	if v.Size[2] != 8 {
		t.Errorf("%d slices, want 8", v.Size[2])
	}
	requireNear(t, "slice spacing", v.SpacingMM[2], 1.6, 1e-12)
	for k := 0; k < 8; k++ {
		want := float32(float64(linearSpec(1.6*float64(k), 3, 4).stored[7]) * 0.1)
		if got := v.At(3, 1, k); got != want {
			t.Errorf("voxel (3, 1, %d) = %v, want %v copied without interpolation", k, got, want)
		}
	}
}

func TestReadDirIrregularSpacingInterpolated(t *testing.T) {
	// Steps 2, 2, 1.1 and 2.9 mm: the median is 2, so the grid is 0, 2, 4, 6, 8 and
	// z = 6 lies between the slices at 5.1 and 8.
	heights := []float64{0, 2, 4, 5.1, 8}
	var specs []sliceSpec
	for _, z := range heights {
		specs = append(specs, linearSpec(z, 3, 4))
	}
	v, info, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	if v.Size[2] != 5 || v.SpacingMM[2] != 2 {
		t.Fatalf("size %v, spacing %v, want 5 slices 2 mm apart", v.Size, v.SpacingMM)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "slice spacing is not uniform: 2 steps between 1.1 and 2.9 mm") {
		t.Errorf("warnings = %q, want one about non-uniform spacing", info.Warnings)
	}
	for k := 0; k < 5; k++ {
		// Each slice's stored values round z to 0.1 mm, which the heights are.
		requireNear(t, fmt.Sprintf("voxel (2, 0, %d)", k), float64(v.At(2, 0, k)), 2*float64(k)+0.2, 1e-4)
	}
}

// sphereHU is the value inside the test sphere; outside it is 0 HU.
const sphereHU = 1000

func TestReadDirGantryTiltKeepsSphereRound(t *testing.T) {
	// The image plane is tilted 15° about the left-right axis while the slice
	// positions step along z, as on a tilted gantry.
	const tiltDeg, stepMM, radiusMM = 15.0, 2.0, 15.0
	tilt := tiltDeg * math.Pi / 180
	row := volume.Vec3{1, 0, 0}
	column := volume.Vec3{0, math.Cos(tilt), math.Sin(tilt)}
	centre := volume.Vec3{0, 0, 40}
	const size = 64
	var specs []sliceSpec
	for k := 0; k <= 40; k++ {
		s := newSliceSpec(0)
		s.positionLPS = [3]float64{-32, -32, stepMM * float64(k)}
		s.orientation = [6]float64{row[0], row[1], row[2], column[0], column[1], column[2]}
		s.pixelSpacing = [2]float64{1, 1}
		s.rows, s.columns = size, size
		s.slope, s.intercept = 1, 0
		s.stored = make([]int16, size*size)
		for j := 0; j < size; j++ {
			for i := 0; i < size; i++ {
				var p volume.Vec3
				for c := 0; c < 3; c++ {
					p[c] = s.positionLPS[c] + float64(i)*row[c] + float64(j)*column[c]
				}
				d := sub(p, centre)
				if dot(d, d) <= radiusMM*radiusMM {
					s.stored[j*size+i] = sphereHU
				}
			}
		}
		specs = append(specs, s)
	}
	v, info, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}

	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "gantry tilt: slice positions step 15° off the slice normal") {
		t.Errorf("warnings = %q, want one about a 15° gantry tilt", info.Warnings)
	}
	wantNormal := volume.Vec3{0, -math.Sin(tilt), math.Cos(tilt)}
	for c := 0; c < 3; c++ {
		requireNear(t, fmt.Sprintf("slice axis component %d", c), v.AxesLPS[2][c], wantNormal[c], 1e-9)
	}
	requireNear(t, "slice spacing", v.SpacingMM[2], stepMM*math.Cos(tilt), 1e-9)
	// 40 steps shift the last slice 40 × 2 × sin 15° = 20.7 mm along the column
	// axis, so the grid gains 21 rows.
	if v.Size != [3]int{64, 85, 41} {
		t.Errorf("size %v, want [64 85 41]", v.Size)
	}

	// The voxels inside the sphere, taken in patient space, must have the moments
	// of a ball: centred on the true centre, variance R²/5 along every axis and no
	// correlation between axes. Sheared slices would correlate P and S.
	var count float64
	var sum volume.Vec3
	var products [3][3]float64
	for k := 0; k < v.Size[2]; k++ {
		for j := 0; j < v.Size[1]; j++ {
			for i := 0; i < v.Size[0]; i++ {
				if v.At(i, j, k) < sphereHU/2 {
					continue
				}
				p := v.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)})
				count++
				for a := 0; a < 3; a++ {
					sum[a] += p[a]
					for b := 0; b < 3; b++ {
						products[a][b] += p[a] * p[b]
					}
				}
			}
		}
	}
	voxelMM3 := v.SpacingMM[0] * v.SpacingMM[1] * v.SpacingMM[2]
	ballMM3 := 4 * math.Pi / 3 * radiusMM * radiusMM * radiusMM
	requireNear(t, "sphere volume in mm³", count*voxelMM3, ballMM3, 0.05*ballMM3)
	for a := 0; a < 3; a++ {
		mean := sum[a] / count
		requireNear(t, fmt.Sprintf("centroid along LPS axis %d", a), mean, centre[a], 0.3)
		for b := 0; b < 3; b++ {
			covariance := products[a][b]/count - mean*sum[b]/count
			want := 0.0
			if a == b {
				want = radiusMM * radiusMM / 5
			}
			requireNear(t, fmt.Sprintf("covariance of LPS axes %d and %d in mm²", a, b), covariance, want, 0.08*radiusMM*radiusMM/5)
		}
	}
}

func TestReadDirPaddingBecomesAir(t *testing.T) {
	// A circular field of view with padding -2000 outside. The slice at z = 5.1 has
	// a smaller field of view, so the interpolated slice at z = 6 blends a ring of
	// tissue with padding; the padding must count as air there.
	const size = 32
	heights := []float64{0, 2, 4, 5.1, 8}
	radii := []float64{14, 14, 14, 10, 14}
	var specs []sliceSpec
	for n, z := range heights {
		s := newSliceSpec(z)
		s.rows, s.columns = size, size
		s.slope, s.intercept = 1, 0
		s.stored = make([]int16, size*size)
		for j := 0; j < size; j++ {
			for i := 0; i < size; i++ {
				s.stored[j*size+i] = -2000
				if math.Hypot(float64(i)-15.5, float64(j)-15.5) <= radii[n] {
					s.stored[j*size+i] = 40
				}
			}
		}
		s.replace = []rawElement{ssElement(tag.PixelPaddingValue, -2000)}
		specs = append(specs, s)
	}
	v, _, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	if v.Size[2] != 5 {
		t.Fatalf("%d slices, want 5", v.Size[2])
	}

	w := (6 - 5.1) / (8 - 5.1)
	for k := 0; k < 5; k++ {
		for j := 0; j < size; j++ {
			for i := 0; i < size; i++ {
				r := math.Hypot(float64(i)-15.5, float64(j)-15.5)
				got := float64(v.At(i, j, k))
				want := 40.0
				switch {
				case r > 14:
					want = paddingHU
				case r > 10 && k == 3:
					// z = 6: 0.69 of the slice at 5.1 (air here) and 0.31 of the one at 8.
					want = (1-w)*paddingHU + w*40
				}
				requireNear(t, fmt.Sprintf("voxel (%d, %d, %d) at radius %.1f", i, j, k, r), got, want, 1e-3)
			}
		}
	}
}

func TestDecodePaddingRange(t *testing.T) {
	s := &slice{bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 1, rescaleSlope: 1, rescaleIntercept: -1024,
		byteOrder: binary.LittleEndian, hasPadding: true, paddingLow: -2000, paddingHigh: -1500}
	stored := []int16{-2001, -2000, -1800, -1500, -1499, 0}
	for _, v := range stored {
		s.pixelData = binary.LittleEndian.AppendUint16(s.pixelData, uint16(v))
	}
	got := make([]float32, len(stored))
	s.decodeInto(got)
	want := []float32{-3025, paddingHU, paddingHU, paddingHU, -2523, -1024}
	for n := range want {
		if got[n] != want[n] {
			t.Errorf("stored %d gives %v, want %v", stored[n], got[n], want[n])
		}
	}
}

func TestReadDirSignedValues(t *testing.T) {
	// Stored int16 values -2000 to 1000 with slope 1 and intercept 0 are the HU.
	specs := stack(0, 1)
	for n := range specs {
		specs[n].rows, specs[n].columns = 1, 3001
		specs[n].slope, specs[n].intercept = 1, 0
		specs[n].stored = make([]int16, 3001)
		for i := range specs[n].stored {
			specs[n].stored[i] = int16(i - 2000)
		}
	}
	v, _, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 2; k++ {
		for i := 0; i < 3001; i++ {
			if got, want := v.At(i, 0, k), float32(i-2000); got != want {
				t.Fatalf("voxel (%d, 0, %d) = %v, want %v", i, k, got, want)
			}
		}
	}
}

func TestReadDirPerSliceSlopes(t *testing.T) {
	specs := stack(0, 1, 2)
	slopes := []float64{1, 0.5, 0.5}
	stored := []int16{2001, -1001, 1}
	for n := range specs {
		specs[n].rows, specs[n].columns = 1, 3
		specs[n].slope = slopes[n]
		specs[n].stored = stored
	}
	v, _, err := ReadDir(writeSeries(t, specs))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{977, -2025, -1023}, {-23.5, -1524.5, -1023.5}, {-23.5, -1524.5, -1023.5}}
	for k := range want {
		for i := range want[k] {
			if got := v.At(i, 0, k); got != want[k][i] {
				t.Errorf("voxel (%d, 0, %d) = %v, want %v (slope %g)", i, k, got, want[k][i], slopes[k])
			}
		}
	}
}

func TestScanSplitsOrientations(t *testing.T) {
	// Five axial slices and a sagittal localizer in the same series.
	specs := stack(0, 2, 4, 6, 8)
	localizer := newSliceSpec(0)
	localizer.orientation = [6]float64{0, 1, 0, 0, 0, -1}
	localizer.replace = []rawElement{dsElement(tag.SliceThickness, 5)}
	dir := writeSeries(t, append(specs, localizer))

	c, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stacks) != 2 {
		t.Fatalf("%d stacks, want 2", len(c.Stacks))
	}
	axial, sagittal := c.Stacks[0], c.Stacks[1]
	if axial.Key != "2.25.1234" || axial.NumImages != 5 || axial.Grid.Size != [3]int{4, 3, 5} || axial.Err != nil {
		t.Errorf("first stack %+v, want 5 axial images under key 2.25.1234", axial)
	}
	if sagittal.Key != "2.25.1234#2" || sagittal.NumImages != 1 || sagittal.Err != nil {
		t.Errorf("second stack %+v, want the localizer under key 2.25.1234#2", sagittal)
	}

	if _, _, err := ReadDir(dir); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "2 image stacks") {
		t.Errorf("ReadDir error %v, want one about 2 image stacks", err)
	}
	st, err := c.Find("2.25.1234")
	if err != nil {
		t.Fatal(err)
	}
	v, info, err := c.Load(st)
	if err != nil {
		t.Fatal(err)
	}
	if v.Size != [3]int{4, 3, 5} || info.NumSlices != 5 {
		t.Errorf("loaded size %v with %d slices, want the 5 axial slices only", v.Size, info.NumSlices)
	}
	if got, want := v.At(0, 0, 4), float32(newSliceSpec(8).stored[0])-1024; got != want {
		t.Errorf("voxel (0, 0, 4) = %v, want %v", got, want)
	}
	if _, err := c.Find("2.25.1234#3"); err == nil || !strings.Contains(err.Error(), "the stacks are: 2.25.1234, 2.25.1234#2") {
		t.Errorf("Find of an unknown key: error %v, want one listing the keys", err)
	}
}

// enhancedCT returns an Enhanced CT file with frames at the given heights, in file
// order. Frame f stores 100·z/3 + n at pixel n. The shared rescale is slope 1 and
// intercept -1024, except for frames listed in doubled, which carry a per-frame
// slope 2 and intercept 0.
func enhancedCT(heights []float64, doubled map[int]bool) []byte {
	const rows, columns = 3, 4
	var perFrame [][]rawElement
	var pixels []byte
	for f, z := range heights {
		group := []rawElement{sequenceElement(tag.PlanePositionSequence, []rawElement{dsElement(tag.ImagePositionPatient, -100, 50, z)})}
		if doubled[f] {
			group = append(group, sequenceElement(tag.PixelValueTransformationSequence, []rawElement{
				dsElement(tag.RescaleIntercept, 0), dsElement(tag.RescaleSlope, 2),
			}))
		}
		perFrame = append(perFrame, group)
		for n := 0; n < rows*columns; n++ {
			pixels = binary.LittleEndian.AppendUint16(pixels, uint16(int16(100*z/3)+int16(n)))
		}
	}
	shared := []rawElement{
		sequenceElement(tag.PlaneOrientationSequence, []rawElement{dsElement(tag.ImageOrientationPatient, 1, 0, 0, 0, 1, 0)}),
		sequenceElement(tag.PixelMeasuresSequence, []rawElement{dsElement(tag.PixelSpacing, 0.8, 0.6), dsElement(tag.SliceThickness, 3)}),
		sequenceElement(tag.PixelValueTransformationSequence, []rawElement{dsElement(tag.RescaleIntercept, -1024), dsElement(tag.RescaleSlope, 1)}),
	}
	elements := []rawElement{
		textElement(tag.SOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.2.1"),
		textElement(tag.SOPInstanceUID, "UI", "2.25.55"),
		textElement(tag.Modality, "CS", "CT"),
		textElement(tag.SeriesInstanceUID, "UI", "2.25.4321"),
		isElement(tag.NumberOfFrames, len(heights)),
		usElement(tag.SamplesPerPixel, 1),
		textElement(tag.PhotometricInterpretation, "CS", "MONOCHROME2"),
		usElement(tag.Rows, rows),
		usElement(tag.Columns, columns),
		usElement(tag.BitsAllocated, 16),
		usElement(tag.BitsStored, 16),
		usElement(tag.HighBit, 15),
		usElement(tag.PixelRepresentation, 1),
		sequenceElement(tag.SharedFunctionalGroupsSequence, shared),
		sequenceElement(tag.PerFrameFunctionalGroupsSequence, perFrame...),
		{tag: tag.PixelData, vr: "OW", value: pixels},
	}
	return encodePart10("1.2.840.10008.1.2.1", elements)
}

func TestReadDirEnhancedCTShuffledFrames(t *testing.T) {
	dir := t.TempDir()
	// Frame 2 (z = 9) has its own rescale.
	content := enhancedCT([]float64{6, 0, 9, 3}, map[int]bool{2: true})
	if err := os.WriteFile(filepath.Join(dir, "enhanced.dcm"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	v, info, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := volume.Grid{Size: [3]int{4, 3, 4}, SpacingMM: volume.Vec3{0.6, 0.8, 3}, OriginLPS: volume.Vec3{-100, 50, 0}, AxesLPS: volume.IdentityAxesLPS}
	if v.Grid != want {
		t.Errorf("grid %+v, want %+v", v.Grid, want)
	}
	if info.NumSlices != 4 || len(info.Warnings) != 0 {
		t.Errorf("info %+v, want 4 slices and no warnings", info)
	}
	for k := 0; k < 4; k++ {
		for n := 0; n < 12; n++ {
			stored := float32(100*k + n)
			wantHU := stored - 1024
			if k == 3 {
				wantHU = 2 * stored
			}
			if got := v.At(n%4, n/4, k); got != wantHU {
				t.Errorf("voxel %d of slice %d = %v, want %v", n, k, got, wantHU)
			}
		}
	}
}

func TestReadDirEnhancedCTMissingPosition(t *testing.T) {
	dir := t.TempDir()
	content := enhancedCT([]float64{0, 3}, nil)
	// Rename the first PlanePositionSequence so frame 1 has no position.
	position := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, 0x0020), 0x9113)
	at := bytes.Index(content, position)
	copy(content[at+2:], binary.LittleEndian.AppendUint16(nil, 0x9114))
	if err := os.WriteFile(filepath.Join(dir, "enhanced.dcm"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadDir(dir)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "enhanced.dcm: frame 1: PlanePositionSequence (0020,9113) is missing") {
		t.Errorf("error %v, want one naming the file, the frame and PlanePositionSequence", err)
	}
}

// encodeImplicit writes elements in implicit VR little endian, sorted by tag.
func encodeImplicit(elements []rawElement) []byte {
	sort.Slice(elements, func(a, b int) bool { return elements[a].tag.Compare(elements[b].tag) < 0 })
	var buf bytes.Buffer
	for _, e := range elements {
		binary.Write(&buf, binary.LittleEndian, [2]uint16{e.tag.Group, e.tag.Element})
		binary.Write(&buf, binary.LittleEndian, uint32(len(e.value)))
		buf.Write(e.value)
	}
	return buf.Bytes()
}

func TestReadDirInfersTransferSyntax(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A bare explicit VR dataset with no preamble and no meta group.
	write("bare.dcm", encodeElements(newSliceSpec(0).elements()))
	// A Part 10 file whose meta group lacks TransferSyntaxUID, with an implicit VR
	// dataset.
	var noSyntax bytes.Buffer
	noSyntax.Write(make([]byte, preambleSize))
	noSyntax.WriteString("DICM")
	meta := encodeElements([]rawElement{textElement(tag.MediaStorageSOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.2")})
	noSyntax.Write(encodeElements([]rawElement{{tag: tag.FileMetaInformationGroupLength, vr: "UL", value: binary.LittleEndian.AppendUint32(nil, uint32(len(meta)))}}))
	noSyntax.Write(meta)
	noSyntax.Write(encodeImplicit(newSliceSpec(1).elements()))
	write("implicit.dcm", noSyntax.Bytes())
	write("normal.dcm", newSliceSpec(2).encode())

	v, info, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		if got, want := v.At(2, 1, k), float32(newSliceSpec(float64(k)).stored[6])-1024; got != want {
			t.Errorf("voxel (2, 1, %d) = %v, want %v", k, got, want)
		}
	}
	wants := []string{
		"bare.dcm has no TransferSyntaxUID (0002,0010); it was read as 1.2.840.10008.1.2.1 (Explicit VR Little Endian)",
		"implicit.dcm has no TransferSyntaxUID (0002,0010); it was read as 1.2.840.10008.1.2 (Implicit VR Little Endian",
	}
	joined := strings.Join(info.Warnings, "\n")
	for _, want := range wants {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q, want one containing %q", info.Warnings, want)
		}
	}
}

func TestScanListsNonImages(t *testing.T) {
	dir := writeSeries(t, stack(0, 1, 2))
	report := encodePart10("1.2.840.10008.1.2.1", []rawElement{
		textElement(tag.SOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.88.11"),
		textElement(tag.Modality, "CS", "SR"),
		textElement(tag.SeriesInstanceUID, "UI", "2.25.88"),
	})
	segmentation := encodePart10("1.2.840.10008.1.2.1", []rawElement{
		textElement(tag.SOPClassUID, "UI", segmentationSOPClass),
		textElement(tag.Modality, "CS", "SEG"),
		textElement(tag.SeriesInstanceUID, "UI", "2.25.66"),
		isElement(tag.NumberOfFrames, 2),
	})
	junk := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(junk)
	for name, content := range map[string][]byte{"report.dcm": report, "seg.dcm": segmentation, "junk.bin": junk} {
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "sub", name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	c, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stacks) != 1 || c.Stacks[0].NumImages != 3 {
		t.Errorf("stacks %+v, want one of 3 images", c.Stacks)
	}
	if len(c.Segmentations) != 1 || c.Segmentations[0].NumFrames != 2 || c.Segmentations[0].SeriesInstanceUID != "2.25.66" {
		t.Errorf("segmentations %+v, want seg.dcm with 2 frames", c.Segmentations)
	}
	wantSkipped := []string{
		filepath.Join("sub", "junk.bin") + ": not DICOM",
		filepath.Join("sub", "report.dcm") + ": 1.2.840.10008.5.1.4.1.1.88.11 (Basic Text SR Storage), not an image",
	}
	if len(c.Skipped) != len(wantSkipped) || c.NonDICOM != 1 {
		t.Fatalf("skipped %q (%d not DICOM), want %d entries, 1 not DICOM", c.Skipped, c.NonDICOM, len(wantSkipped))
	}
	for n, want := range wantSkipped {
		if !strings.HasPrefix(c.Skipped[n], want) {
			t.Errorf("skipped[%d] = %q, want it to start with %q", n, c.Skipped[n], want)
		}
	}
	if _, _, err := ReadDir(dir); err != nil {
		t.Errorf("ReadDir: %v, want the one image stack", err)
	}
}

func TestSniffFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		content []byte
		want    bool
	}{
		"part10":    {newSliceSpec(0).encode(), true},
		"bare":      {encodeElements(newSliceSpec(0).elements()), true},
		"text":      {[]byte("patient notes, not DICOM at all"), false},
		"empty":     {nil, false},
		"zeros":     {make([]byte, 4096), false},
		"stray":     {append([]byte{0x20}, encodeElements(newSliceSpec(0).elements())...), false},
		"short tag": {[]byte{0x08, 0x00}, false},
	}
	for name, tc := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := sniffFile(path)
		if err != nil || got != tc.want {
			t.Errorf("%s: sniffFile = %v, %v; want %v", name, got, err, tc.want)
		}
	}
}

func TestReadDirTooManyVoxels(t *testing.T) {
	// 1 mm steps and one slice 2^31 mm away would need billions of air slices.
	_, _, err := ReadDir(writeSeries(t, stack(0, 1, 2, 3, 1<<31)))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "more than the limit of 1073741824 voxels") {
		t.Errorf("error %v, want one about the voxel limit", err)
	}
}

// bigSliceSpec returns a 256 × 256 image, 128 KiB of pixel data, so that Scan reads
// only the first part of its file. An icon image sequence with its own PixelData,
// in an undefined-length item, comes before the image's pixel data.
func bigSliceSpec(z float64) sliceSpec {
	s := linearSpec(z, 256, 256)
	for n := range s.stored {
		s.stored[n] = int16(math.Round(z*10)) + int16(n%1000)
	}
	icon := encodeElements([]rawElement{
		usElement(tag.Rows, 2),
		usElement(tag.Columns, 2),
		{tag: tag.PixelData, vr: "OW", value: make([]byte, 8)},
	})
	var item []byte
	item = append(item, itemHeader(0xe000, undefinedLength)...)
	item = append(item, icon...)
	item = append(item, itemHeader(0xe00d, 0)...)
	item = append(item, itemHeader(sequenceDelimitationElement, 0)...)
	s.replace = []rawElement{{tag: tag.IconImageSequence, vr: "SQ", value: item, undefinedLength: true}}
	return s
}

func TestScanLargeFilesReadsHeaders(t *testing.T) {
	specs := []sliceSpec{bigSliceSpec(0), bigSliceSpec(2), bigSliceSpec(4)}
	dir := writeSeries(t, specs)
	c, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stacks) != 1 || c.Stacks[0].Grid.Size != [3]int{256, 256, 3} || len(c.Failed) != 0 {
		t.Fatalf("stacks %+v, failed %v; want one 256×256×3 stack", c.Stacks, c.Failed)
	}
	v, _, err := c.Load(c.Stacks[0])
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 3; k++ {
		for _, n := range []int{0, 999, 65535} {
			want := float64(specs[k].stored[n]) * 0.1
			requireNear(t, fmt.Sprintf("voxel %d of slice %d", n, k), float64(v.Voxels[k*65536+n]), want, 1e-4)
		}
	}

	// A file cut inside its pixel data fails in Scan, because the PixelData length
	// is checked against the file size, although the pixel data are not read.
	path := filepath.Join(dir, "IM0002.dcm")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content[:len(content)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Failed) != 1 || !strings.Contains(c.Failed[0].Error(), "IM0002.dcm: element PixelData (7fe0,0010)") || !strings.Contains(c.Failed[0].Error(), "but only 130972 bytes follow") {
		t.Errorf("failed %v, want IM0002.dcm with a PixelData length error", c.Failed)
	}
}

func TestHeaderEnd(t *testing.T) {
	content := bigSliceSpec(0).encode()
	at, ok := headerEnd(content[:scanPrefixSize], len(content))
	if !ok {
		t.Fatal("headerEnd found no PixelData in the first 64 KiB")
	}
	// The image's PixelData header is the last 12 bytes before its 131072-byte value.
	if want := len(content) - 131072 - 12; at != want {
		t.Errorf("headerEnd = %d, want %d (the top-level PixelData, not the icon's)", at, want)
	}
	if _, ok := headerEnd(content[:at], len(content)); ok {
		t.Error("headerEnd found PixelData in a prefix that ends before it")
	}
}

// TestDecodeHighBitAboveBitsStored reads 12-bit samples stored in bits 4 to 15
// (HighBit 15), signed and unsigned.
func TestDecodeHighBitAboveBitsStored(t *testing.T) {
	cases := []struct {
		name                string
		pixelRepresentation int
		raw                 uint16
		want                float32
	}{
		{"signed minus one", 1, 0xfff0, -1},
		{"signed minimum", 1, 0x8000, -2048},
		{"signed with low bits set", 1, 0x7ff5, 2047},
		{"unsigned maximum", 0, 0xfff0, 4095},
	}
	for _, tc := range cases {
		s := &slice{bitsAllocated: 16, bitsStored: 12, sampleShift: 4, pixelRepresentation: tc.pixelRepresentation,
			rescaleSlope: 1, byteOrder: binary.BigEndian, pixelData: binary.BigEndian.AppendUint16(nil, tc.raw)}
		got := make([]float32, 1)
		s.decodeInto(got)
		if got[0] != tc.want {
			t.Errorf("%s: raw %#04x gives %v, want %v", tc.name, tc.raw, got[0], tc.want)
		}
	}
}

func TestReadDirRejectsHighBit(t *testing.T) {
	specs := stack(0, 1)
	specs[0].replace = []rawElement{usElement(tag.HighBit, 16)}
	_, _, err := ReadDir(writeSeries(t, specs))
	want := "HighBit (0028,0102) is 16 with BitsStored (0028,0101) 16 and BitsAllocated (0028,0100) 16, want 15 to 15"
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want a malformed-file error containing %q", err, want)
	}
}

// TestDecode16TableMatchesFormula checks that the table decode16LE looks samples up
// in gives, for every 16-bit sample, the value of the per-sample formula, and that a
// slice with other parameters does not reuse the previous slice's table.
func TestDecode16TableMatchesFormula(t *testing.T) {
	params := []*slice{
		{pixelRepresentation: 1, rescaleSlope: 1, rescaleIntercept: -1024},
		{pixelRepresentation: 0, rescaleSlope: 1, rescaleIntercept: -1024},
		{pixelRepresentation: 1, rescaleSlope: 0.37, rescaleIntercept: -3.5, hasPadding: true, paddingLow: -2000, paddingHigh: -1500},
		{pixelRepresentation: 0, rescaleSlope: 2.5, rescaleIntercept: 0, hasPadding: true, paddingLow: 63536, paddingHigh: 63536},
		{pixelRepresentation: 1, rescaleSlope: 1, rescaleIntercept: -1024},
	}
	for n, s := range params {
		s.bitsAllocated, s.bitsStored, s.byteOrder = 16, 16, binary.LittleEndian
		s.pixelData = make([]byte, 2<<16)
		for raw := 0; raw < 1<<16; raw++ {
			binary.LittleEndian.PutUint16(s.pixelData[2*raw:], uint16(raw))
		}
		got := make([]float32, 1<<16)
		s.decodeInto(got)
		for raw := 0; raw < 1<<16; raw++ {
			stored := int64(raw)
			if s.pixelRepresentation == 1 {
				stored = int64(int16(raw))
			}
			want := float32(float64(stored)*s.rescaleSlope + s.rescaleIntercept)
			if s.hasPadding && stored >= s.paddingLow && stored <= s.paddingHigh {
				want = paddingHU
			}
			if got[raw] != want {
				t.Fatalf("parameters %d: sample %#04x gives %v, want %v", n, raw, got[raw], want)
			}
		}
	}
}
