package seg

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
	"protrude/volume/dicomseries"
)

const ctImageStorageUID = "1.2.840.10008.5.1.4.1.1.2"

// syntheticSeries describes a small CT series that the tests write with this
// package's encoder, so that they run without the shared data.
type syntheticSeries struct {
	columns, rows, slices int
	spacingMM             [3]float64 // column spacing, row spacing, slice step
	originLPS             volume.Vec3
	frameOfReferenceUID   string
	seriesInstanceUID     string
}

func defaultSeries() syntheticSeries {
	return syntheticSeries{
		columns: 13, rows: 11, slices: 7,
		spacingMM:           [3]float64{0.8, 0.8, 2.5},
		originLPS:           volume.Vec3{-5.2, 3.1, -40},
		frameOfReferenceUID: "2.25.1001",
		seriesInstanceUID:   "2.25.1002",
	}
}

// write writes the series into dir, one file per slice, in reverse slice order so
// that no test depends on file order. Pixels are int16 HU ramps with intercept 0.
func (s syntheticSeries) write(t testing.TB, dir string) {
	t.Helper()
	for k := 0; k < s.slices; k++ {
		pixels := make([]byte, 2*s.rows*s.columns)
		for n := 0; n < s.rows*s.columns; n++ {
			binary.LittleEndian.PutUint16(pixels[2*n:], uint16(int16(n+k-40)))
		}
		position := s.originLPS
		position[2] += float64(k) * s.spacingMM[2]
		instance := fmt.Sprintf("2.25.2%03d", k)
		ds := []element{
			stringElement(tag.SpecificCharacterSet, "CS", "ISO_IR 100"),
			stringElement(tag.SOPClassUID, "UI", ctImageStorageUID),
			stringElement(tag.SOPInstanceUID, "UI", instance),
			stringElement(tag.StudyDate, "DA", "20200101"),
			stringElement(tag.StudyTime, "TM", "120000"),
			stringElement(tag.Modality, "CS", "CT"),
			stringElement(tag.PatientName, "PN", "ANON^SYNTHETIC"),
			stringElement(tag.PatientID, "LO", "ANON0002"),
			stringElement(tag.PatientSex, "CS", "O"),
			stringElement(tag.StudyInstanceUID, "UI", "2.25.1000"),
			stringElement(tag.SeriesInstanceUID, "UI", s.seriesInstanceUID),
			stringElement(tag.FrameOfReferenceUID, "UI", s.frameOfReferenceUID),
			integerStringElement(tag.InstanceNumber, s.slices-k),
			decimalElement(tag.ImagePositionPatient, position[0], position[1], position[2]),
			decimalElement(tag.ImageOrientationPatient, 1, 0, 0, 0, 1, 0),
			decimalElement(tag.PixelSpacing, s.spacingMM[1], s.spacingMM[0]),
			decimalElement(tag.SliceThickness, s.spacingMM[2]),
			uint16Element(tag.SamplesPerPixel, 1),
			stringElement(tag.PhotometricInterpretation, "CS", "MONOCHROME2"),
			uint16Element(tag.Rows, uint16(s.rows)),
			uint16Element(tag.Columns, uint16(s.columns)),
			uint16Element(tag.BitsAllocated, 16),
			uint16Element(tag.BitsStored, 16),
			uint16Element(tag.HighBit, 15),
			uint16Element(tag.PixelRepresentation, 1),
			decimalElement(tag.RescaleIntercept, 0),
			decimalElement(tag.RescaleSlope, 1),
			{tag: tag.PixelData, vr: "OW", value: pixels},
		}
		content, err := encodeFile(ctImageStorageUID, instance, ds)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, fmt.Sprintf("IM%04d.dcm", s.slices-1-k))
		if err := os.WriteFile(name, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readSeries reads a series folder with dicomseries, as the app does, and matches
// its images to the grid.
func readSeries(t testing.TB, dir string) *Source {
	t.Helper()
	ct, _, err := dicomseries.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := ReadSource(dir, ct.Grid)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// syntheticLayers returns overlapping shapes on g: a kidney ellipsoid, a protruded
// region that straddles its edge, a tumor sphere inside both, and an empty base tumor.
func syntheticLayers(g volume.Grid) Layers {
	l := Layers{
		Kidney:     volume.NewMask(g),
		Protrusion: volume.NewMask(g),
		Tumor:      volume.NewMask(g),
		BaseTumor:  volume.NewMask(g),
	}
	c := volume.Vec3{float64(g.Size[0]) / 2, float64(g.Size[1]) / 2, float64(g.Size[2]) / 2}
	r := volume.Vec3{float64(g.Size[0]) / 3, float64(g.Size[1]) / 4, float64(g.Size[2]) / 3}
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				x, y, z := (float64(i)-c[0])/r[0], (float64(j)-c[1])/r[1], (float64(k)-c[2])/r[2]
				n := g.Offset(i, j, k)
				if x*x+y*y+z*z <= 1 {
					l.Kidney.Labels[n] = 1
				}
				// The protruded region is a box across the kidney's edge along +i.
				if x > 0.6 && x < 1.4 && y*y < 0.5 && z*z < 0.5 {
					l.Protrusion.Labels[n] = 1
				}
				if (x-0.8)*(x-0.8)+y*y+z*z <= 0.2 {
					l.Tumor.Labels[n] = 1
				}
			}
		}
	}
	return l
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func decodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
