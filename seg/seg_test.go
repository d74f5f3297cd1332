package seg

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

const realSeriesDir = "../../shared/data/dicom/real_ncct_series"

func requireRealSeries(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(realSeriesDir); err != nil {
		t.Skipf("skipping: the shared real CT series %s is absent (%v); it exists only in the development checkout", realSeriesDir, err)
	}
}

func TestPackFramesBitOrder(t *testing.T) {
	// Two 3×3 frames are 18 bits, so the second frame starts at bit 1 of byte 1.
	g := volume.Grid{Size: [3]int{3, 3, 1}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	first, second := volume.NewMask(g), volume.NewMask(g)
	first.Labels[0] = 1  // bit 0 of byte 0
	first.Labels[8] = 1  // bit 0 of byte 1
	second.Labels[0] = 1 // bit 9: bit 1 of byte 1
	second.Labels[8] = 7 // bit 17: bit 1 of byte 2
	src := &Source{Grid: g, Slices: make([]SourceSlice, 1)}
	segments := []Segment{{Number: 1, Mask: first}, {Number: 2, Mask: second}}

	got := packFrames(src, segments, []frameRef{{0, 0}, {1, 0}})
	want := []byte{0b0000_0001, 0b0000_0011, 0b0000_0010}
	if !bytes.Equal(got, want) {
		t.Errorf("packFrames = %08b, want %08b", got, want)
	}
}

func TestFramesToWriteOmitsEmptySlices(t *testing.T) {
	g := volume.Grid{Size: [3]int{2, 2, 4}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	full, empty := volume.NewMask(g), volume.NewMask(g)
	full.Labels[g.Offset(1, 1, 2)] = 1
	full.Labels[g.Offset(0, 0, 3)] = 1
	src := &Source{Grid: g, Slices: make([]SourceSlice, 4)}

	got := framesToWrite(src, []Segment{{Number: 1, Mask: full}, {Number: 2, Mask: empty}})
	want := []frameRef{{0, 2}, {0, 3}, {1, 0}}
	if len(got) != len(want) {
		t.Fatalf("frames = %v, want %v", got, want)
	}
	for n := range want {
		if got[n] != want[n] {
			t.Errorf("frame %d = %v, want %v", n, got[n], want[n])
		}
	}
}

// checkSameSegments compares read segments voxel by voxel with the written ones.
func checkSameSegments(t *testing.T, got, want []Segment) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d segments, want %d", len(got), len(want))
	}
	for n := range want {
		if got[n].Number != want[n].Number || got[n].Label != want[n].Label || got[n].Type != want[n].Type || got[n].Category != want[n].Category {
			t.Errorf("segment %d = (%d, %q, %v, %v), want (%d, %q, %v, %v)", n, got[n].Number, got[n].Label, got[n].Category, got[n].Type,
				want[n].Number, want[n].Label, want[n].Category, want[n].Type)
		}
		wantType := want[n].AlgorithmType
		if wantType == "" {
			wantType = AlgorithmAutomatic
		}
		if got[n].AlgorithmType != wantType {
			t.Errorf("segment %d SegmentAlgorithmType = %q, want %q", n, got[n].AlgorithmType, wantType)
		}
		if got[n].Mask.Size != want[n].Mask.Size {
			t.Fatalf("segment %d size = %v, want %v", n, got[n].Mask.Size, want[n].Mask.Size)
		}
		differ, voxels := 0, 0
		for v := range want[n].Mask.Labels {
			if want[n].Mask.Labels[v] != 0 {
				voxels++
			}
			if (got[n].Mask.Labels[v] != 0) != (want[n].Mask.Labels[v] != 0) {
				differ++
			}
		}
		if differ != 0 {
			t.Errorf("segment %d (%s): %d of %d voxels differ after the round trip (%d voxels set)", n, want[n].Label, differ, len(want[n].Mask.Labels), voxels)
		}
	}
}

func TestWriteReadSyntheticSeries(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	layers := syntheticLayers(src.Grid)
	path := filepath.Join(t.TempDir(), "segmentation.dcm")

	if err := Write(path, src, layers.Segments(), WriteOptions{SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path, src)
	if err != nil {
		t.Fatal(err)
	}
	checkSameSegments(t, got, layers.Segments())

	back, err := LayersFromSegments(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.BaseTumor == nil {
		t.Errorf("LayersFromSegments lost the empty base tumor segment")
	}
}

func TestWriteRejectsMaskOffGrid(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	layers := syntheticLayers(src.Grid)
	shifted := src.Grid
	shifted.OriginLPS[2] += 1
	layers.Tumor = volume.NewMask(shifted)

	path := filepath.Join(t.TempDir(), "segmentation.dcm")
	err := Write(path, src, layers.Segments(), WriteOptions{SoftwareVersion: "test"})
	if err == nil || !strings.Contains(err.Error(), "source grid") {
		t.Errorf("Write with a shifted tumor mask: error %v, want one about the source grid", err)
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("a failed Write left %s behind (stat: %v)", path, statErr)
	}
}

func TestReadRejectsOtherSeries(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	path := filepath.Join(t.TempDir(), "segmentation.dcm")
	segments := syntheticLayers(src.Grid).Segments()
	segments[2].AlgorithmType = AlgorithmSemiautomatic
	if err := Write(path, src, segments, WriteOptions{SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}

	otherFrame := defaultSeries()
	otherFrame.frameOfReferenceUID = "2.25.9001"
	otherSeries := defaultSeries()
	otherSeries.seriesInstanceUID = "2.25.9002"
	shifted := defaultSeries()
	shifted.originLPS[2] += 2 * shifted.spacingMM[2]
	shiftedHalf := defaultSeries()
	shiftedHalf.originLPS[0] += 0.5

	tests := []struct {
		name    string
		series  syntheticSeries
		element string
	}{
		{"other frame of reference", otherFrame, "FrameOfReferenceUID (0020,0052)"},
		{"other series", otherSeries, "ReferencedSeriesSequence (0008,1115)"},
		{"slices shifted along the axis", shifted, "ImagePositionPatient (0020,0032)"},
		{"slices shifted in plane", shiftedHalf, "ImagePositionPatient (0020,0032)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.series.write(t, dir)
			other := readSeries(t, dir)
			_, err := Read(path, other)
			if err == nil {
				t.Fatalf("Read against %s succeeded, want an error naming %s", tt.name, tt.element)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.element) || !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s and the element %s", msg, path, tt.element)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", msg)
			}
			if strings.Contains(msg, "ANON") {
				t.Errorf("error %q contains a patient identifier", msg)
			}
		})
	}
}

func TestReadRejectsCTImage(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	path := filepath.Join(seriesDir, "IM0000.dcm")

	_, err := Read(path, src)
	if err == nil || !strings.Contains(err.Error(), "SOPClassUID (0008,0016)") || !strings.Contains(err.Error(), ctImageStorageUID) {
		t.Errorf("Read of a CT image: error %v, want one naming SOPClassUID (0008,0016) and %s", err, ctImageStorageUID)
	}
}

func TestReadSourceRejectsOtherGrid(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)

	bigger := src.Grid
	bigger.Size[0]++
	thicker := src.Grid
	thicker.SpacingMM[2] *= 2
	rotated := src.Grid
	rotated.AxesLPS = [3]volume.Vec3{{0, 1, 0}, {1, 0, 0}, {0, 0, -1}}
	tests := []struct {
		name    string
		grid    volume.Grid
		element string
	}{
		{"more columns", bigger, "columns"},
		{"double slice spacing", thicker, "ImagePositionPatient (0020,0032)"},
		{"swapped axes", rotated, "ImageOrientationPatient (0020,0037)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSource(seriesDir, tt.grid)
			if err == nil || !strings.Contains(err.Error(), tt.element) {
				t.Errorf("ReadSource: error %v, want one naming %s", err, tt.element)
			}
		})
	}
}

func TestRealSeriesRoundTrip(t *testing.T) {
	requireRealSeries(t)
	src := readSeries(t, realSeriesDir)
	layers := syntheticLayers(src.Grid)
	// A tumor edited by hand is SEMIAUTOMATIC; the other segments stay AUTOMATIC.
	segments := layers.Segments()
	segments[2].AlgorithmType = AlgorithmSemiautomatic
	path := filepath.Join(t.TempDir(), "segmentation.dcm")
	if err := Write(path, src, segments, WriteOptions{SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}

	got, err := Read(path, src)
	if err != nil {
		t.Fatal(err)
	}
	checkSameSegments(t, got, segments)
}

// TestRealSeriesPassesDciodvfy checks the written SEG with dciodvfy from dicom3tools,
// which validates it against the Segmentation IOD. Any line starting with "Error"
// fails the test, and warnings are logged.
func TestRealSeriesPassesDciodvfy(t *testing.T) {
	requireRealSeries(t)
	dciodvfy, err := exec.LookPath("dciodvfy")
	if err != nil {
		t.Skip("skipping: dciodvfy is not installed (apt install dicom3tools)")
	}
	src := readSeries(t, realSeriesDir)
	path := filepath.Join(t.TempDir(), "segmentation.dcm")
	segments := syntheticLayers(src.Grid).Segments()
	segments[2].AlgorithmType = AlgorithmSemiautomatic
	if err := Write(path, src, segments, WriteOptions{SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}

	out, _ := exec.Command(dciodvfy, path).CombinedOutput()
	if !strings.Contains(string(out), "Segmentation") {
		t.Errorf("dciodvfy did not recognise a Segmentation:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Error"):
			t.Errorf("dciodvfy: %s", line)
		case strings.HasPrefix(line, "Warning"):
			t.Logf("dciodvfy: %s", line)
		}
	}
}

// pydicomScript prints, for each frame, the number of set pixels and the flat index
// of the first one, as pydicom unpacks the 1-bit pixel data.
const pydicomScript = `
import json, sys
import pydicom
ds = pydicom.dcmread(sys.argv[1])
frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), -1)
out = []
for n, f in enumerate(frames):
    item = ds.PerFrameFunctionalGroupsSequence[n]
    segment = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
    z = float(item.PlanePositionSequence[0].ImagePositionPatient[2])
    out.append([segment, z, int(f.sum()), f.tobytes().hex()])
print(json.dumps(out))
`

// TestRealSeriesMatchesPydicom checks the bit order and frame layout against pydicom,
// an independent DICOM reader: each frame pydicom unpacks must equal the slice of
// its segment's mask at the frame's position.
func TestRealSeriesMatchesPydicom(t *testing.T) {
	requireRealSeries(t)
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import pydicom, numpy").Run(); err != nil {
		t.Skipf("skipping: pydicom is the referee, and %s -c 'import pydicom, numpy' failed: %v", python, err)
	}
	src := readSeries(t, realSeriesDir)
	segments := syntheticLayers(src.Grid).Segments()
	path := filepath.Join(t.TempDir(), "segmentation.dcm")
	if err := Write(path, src, segments, WriteOptions{SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(python, "-c", pydicomScript, path).Output()
	if err != nil {
		t.Fatalf("pydicom failed: %v", err)
	}
	var frames [][4]any
	if err := jsonUnmarshal(out, &frames); err != nil {
		t.Fatalf("pydicom output is not JSON: %v", err)
	}
	plane := src.Grid.Size[0] * src.Grid.Size[1]
	for n, f := range frames {
		segment, z, hexPixels := int(f[0].(float64)), f[1].(float64), f[3].(string)
		k, err := gridSlice(src.Grid, volume.Vec3{src.Grid.OriginLPS[0], src.Grid.OriginLPS[1], z}, "z")
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		want := segments[segment-1].Mask.Labels[k*plane : (k+1)*plane]
		pixels := decodeHex(t, hexPixels)
		if len(pixels) != plane {
			t.Fatalf("frame %d: pydicom unpacked %d pixels, want %d", n, len(pixels), plane)
		}
		for p := range want {
			if (pixels[p] != 0) != (want[p] != 0) {
				t.Errorf("frame %d (segment %d, slice %d): pixel %d is %d in pydicom, want %d", n, segment, k, p, pixels[p], want[p])
				break
			}
		}
	}
}

func TestReadRejectsLengthPastEnd(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	content, err := encodeSegmentation(src, syntheticLayers(src.Grid).Segments(), WriteOptions{SoftwareVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// PixelData (7FE0,0010) OB: tag, VR, 2 reserved bytes, then the 4-byte length.
	header := []byte{0xe0, 0x7f, 0x10, 0x00, 'O', 'B', 0, 0}
	at := bytes.LastIndex(content, header)
	if at < 0 {
		t.Fatal("PixelData header not found in the encoded SEG")
	}
	copy(content[at+8:], []byte{0xf0, 0xff, 0xff, 0xff})

	_, err = decode(content, src)
	if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "past the end") {
		t.Errorf("decode with PixelData length 0xFFFFFFF0: error %v, want ErrMalformed about a length past the end of the file", err)
	}
}

func TestReadSourceRejectsTwoSeries(t *testing.T) {
	seriesDir, otherDir := t.TempDir(), t.TempDir()
	defaultSeries().write(t, seriesDir)
	other := defaultSeries()
	other.seriesInstanceUID = "2.25.9003"
	other.write(t, otherDir)
	content, err := os.ReadFile(filepath.Join(otherDir, "IM0003.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seriesDir, "ZZ0003.dcm"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	src := readSeries(t, otherDir)

	_, err = ReadSource(seriesDir, src.Grid)
	if err == nil || !strings.Contains(err.Error(), "SeriesInstanceUID (0020,000e)") || !strings.Contains(err.Error(), "IM0000.dcm") {
		t.Errorf("ReadSource of a folder with two series: error %v, want one naming SeriesInstanceUID (0020,000e) and the first file IM0000.dcm", err)
	}
}

// TestFrameSliceFromSourceImage places frames by their referenced SOP Instance UID
// after removing PlanePositionSequence, as in files that carry no positions.
func TestFrameSliceFromSourceImage(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	content, err := encodeSegmentation(src, syntheticLayers(src.Grid).Segments(), WriteOptions{SoftwareVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := parseDataset(content, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		t.Fatal(err)
	}
	perFrame, err := sequenceItems(ds.Elements, tag.PerFrameFunctionalGroupsSequence)
	if err != nil {
		t.Fatal(err)
	}
	bySOPInstance := make(map[string]int)
	for k, s := range src.Slices {
		bySOPInstance[s.SOPInstanceUID] = k
	}

	for n, item := range perFrame {
		want, err := frameSlice(item, src, bySOPInstance)
		if err != nil {
			t.Fatal(err)
		}
		var withoutPosition []*dicom.Element
		for _, e := range item {
			if e.Tag != tag.PlanePositionSequence {
				withoutPosition = append(withoutPosition, e)
			}
		}
		got, err := frameSlice(withoutPosition, src, bySOPInstance)
		if err != nil {
			t.Fatalf("frame %d without PlanePositionSequence: %v", n, err)
		}
		if got != want {
			t.Errorf("frame %d: slice %d from its source image, want %d from its position", n, got, want)
		}
	}
	_, err = frameSlice(nil, src, bySOPInstance)
	if err == nil || !strings.Contains(err.Error(), "cannot be placed") {
		t.Errorf("frame with neither position nor source image: error %v, want one saying it cannot be placed", err)
	}
}

func TestReadRejectsBigEndian(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	content, err := encodeSegmentation(src, syntheticLayers(src.Grid).Segments(), WriteOptions{SoftwareVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Explicit VR big endian has a UID of the same length as explicit VR little endian.
	at := bytes.Index(content, []byte(explicitVRLittleEndian))
	if at < 0 {
		t.Fatal("TransferSyntaxUID value not found in the encoded SEG")
	}
	copy(content[at:], "1.2.840.10008.1.2.2")

	_, err = decode(content, src)
	if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "TransferSyntaxUID (0002,0010)") {
		t.Errorf("decode of a big endian SEG: error %v, want ErrUnsupported naming TransferSyntaxUID (0002,0010)", err)
	}
}

func TestLayersFromSegmentsRejectsDuplicateLabel(t *testing.T) {
	g := volume.Grid{Size: [3]int{2, 2, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	segments := Layers{Kidney: volume.NewMask(g), Protrusion: volume.NewMask(g), Tumor: volume.NewMask(g), BaseTumor: volume.NewMask(g)}.Segments()
	segments[3].Label = LabelTumor

	_, err := LayersFromSegments(segments)
	if err == nil {
		t.Fatalf("LayersFromSegments with segments 3 and 4 labelled %q: no error", LabelTumor)
	}
	for _, want := range []string{"segments 3 and 4", `"Tumor"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LayersFromSegments with segments 3 and 4 labelled %q: error %q does not contain %q", LabelTumor, err, want)
		}
	}
}

func TestLayersFromSegmentsIgnoresOtherLabels(t *testing.T) {
	g := volume.Grid{Size: [3]int{2, 2, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	segments := Layers{Kidney: volume.NewMask(g), Protrusion: volume.NewMask(g), Tumor: volume.NewMask(g)}.Segments()
	segments = append(segments, Segment{Number: 4, Label: "Cyst", Mask: volume.NewMask(g)}, Segment{Number: 5, Label: "Cyst", Mask: volume.NewMask(g)})

	l, err := LayersFromSegments(segments)
	if err != nil {
		t.Fatalf("LayersFromSegments with two segments labelled \"Cyst\": %v, want no error", err)
	}
	if l.Tumor != segments[2].Mask {
		t.Errorf("LayersFromSegments: Tumor layer is not segment 3's mask")
	}
}
