package dicomcodec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// sharedData is the shared data folder seen from this package's folder: the
// repository root is two levels up and the shared data sits beside it.
var sharedData = filepath.Join("..", "..", "..", "shared", "data")

var edgeDir = filepath.Join(sharedData, "dicom", "edge")

func requirePath(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: shared test data %s is absent (%v); it exists only in the development checkout", path, err)
	}
}

// dicomFile is the pixel description and pixel data of a single-frame DICOM file.
type dicomFile struct {
	syntax string
	format Format
	// frame is the compressed frame (all fragments joined) for an encapsulated
	// syntax, and the native pixel data otherwise.
	frame     []byte
	byteOrder binary.ByteOrder
}

// readDICOMFile parses a single-frame DICOM file with github.com/suyashkumar/dicom.
func readDICOMFile(t testing.TB, path string) dicomFile {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dicom.Parse(bytes.NewReader(content), int64(len(content)), nil, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		t.Fatalf("%s: parse: %v", path, err)
	}
	var file dicomFile
	file.syntax = stringElement(t, &ds, tag.TransferSyntaxUID)
	file.format = Format{
		Rows:                intElement(t, &ds, tag.Rows),
		Columns:             intElement(t, &ds, tag.Columns),
		SamplesPerPixel:     intElement(t, &ds, tag.SamplesPerPixel),
		BitsAllocated:       intElement(t, &ds, tag.BitsAllocated),
		BitsStored:          intElement(t, &ds, tag.BitsStored),
		PixelRepresentation: intElement(t, &ds, tag.PixelRepresentation),
	}
	file.byteOrder = binary.LittleEndian
	if file.syntax == "1.2.840.10008.1.2.2" {
		file.byteOrder = binary.BigEndian
	}

	e, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	info := e.Value.GetValue().(dicom.PixelDataInfo)
	if !info.IsEncapsulated {
		file.frame = info.UnprocessedValueData
		return file
	}
	for _, fragment := range info.Frames {
		file.frame = append(file.frame, fragment.EncapsulatedData.Data...)
	}
	return file
}

func stringElement(t testing.TB, ds *dicom.Dataset, tg tag.Tag) string {
	t.Helper()
	e, err := ds.FindElementByTag(tg)
	if err != nil {
		t.Fatalf("%v: %v", tg, err)
	}
	values := e.Value.GetValue().([]string)
	return string(bytes.Trim([]byte(values[0]), " \x00"))
}

func intElement(t testing.TB, ds *dicom.Dataset, tg tag.Tag) int {
	t.Helper()
	e, err := ds.FindElementByTag(tg)
	if err != nil {
		t.Fatalf("%v: %v", tg, err)
	}
	return e.Value.GetValue().([]int)[0]
}

// sampleValues reads rows × columns samples from native pixel data: the low
// BitsStored bits of each, sign-extended when PixelRepresentation is 1.
func sampleValues(t testing.TB, pixels []byte, order binary.ByteOrder, f Format) []int64 {
	t.Helper()
	count := f.Rows * f.Columns
	bytesPerSample := f.BitsAllocated / 8
	if len(pixels) < count*bytesPerSample {
		t.Fatalf("pixel data are %d bytes, want %d", len(pixels), count*bytesPerSample)
	}
	mask := uint64(1)<<f.BitsStored - 1
	signBit := uint64(1) << (f.BitsStored - 1)
	values := make([]int64, count)
	for n := range values {
		var raw uint64
		switch bytesPerSample {
		case 1:
			raw = uint64(pixels[n])
		case 2:
			raw = uint64(order.Uint16(pixels[2*n:]))
		case 4:
			raw = uint64(order.Uint32(pixels[4*n:]))
		}
		raw &= mask
		values[n] = int64(raw)
		if f.PixelRepresentation == 1 && raw&signBit != 0 {
			values[n] -= int64(mask) + 1
		}
	}
	return values
}

// decodeFileValues decodes a DICOM file's frame with this package and returns its
// sample values.
func decodeFileValues(t testing.TB, path string) ([]int64, dicomFile) {
	t.Helper()
	file := readDICOMFile(t, path)
	if !IsSupported(file.syntax) {
		return sampleValues(t, file.frame, file.byteOrder, file.format), file
	}
	native, err := Decode(file.syntax, file.frame, file.format)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(native) != file.format.frameBytes() {
		t.Fatalf("%s: decoded %d bytes, want %d", path, len(native), file.format.frameBytes())
	}
	return sampleValues(t, native, binary.LittleEndian, file.format), file
}

// referee is an independent DICOM decoder run as a command that writes an
// uncompressed explicit VR little endian copy of its input.
type referee struct {
	name string
	// args returns the command line that converts in to out.
	args func(in, out string) []string
}

var (
	gdcmRaw  = referee{"gdcmconv", func(in, out string) []string { return []string{"--raw", in, out} }}
	dcmdjpeg = referee{"dcmdjpeg", func(in, out string) []string { return []string{in, out} }}
	dcmdjpls = referee{"dcmdjpls", func(in, out string) []string { return []string{in, out} }}
	dcmdrle  = referee{"dcmdrle", func(in, out string) []string { return []string{in, out} }}
	// dcmconv +te writes explicit VR little endian, which undoes big endian, implicit
	// VR and deflate.
	dcmconv = referee{"dcmconv", func(in, out string) []string { return []string{"+te", in, out} }}
)

// refereeValues converts path with the referee and returns the sample values of the
// converted file. ok is false when the referee is not installed.
func refereeValues(t testing.TB, r referee, path string) (values []int64, file dicomFile, ok bool) {
	t.Helper()
	command, err := exec.LookPath(r.name)
	if err != nil {
		return nil, dicomFile{}, false
	}
	out := filepath.Join(t.TempDir(), "referee.dcm")
	output, err := exec.Command(command, r.args(path, out)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s failed: %v\n%s", r.name, path, err, output)
	}
	file = readDICOMFile(t, out)
	if file.syntax != "1.2.840.10008.1.2.1" && file.syntax != "1.2.840.10008.1.2" {
		t.Fatalf("%s wrote transfer syntax %s, want explicit or implicit VR little endian", r.name, file.syntax)
	}
	return sampleValues(t, file.frame, file.byteOrder, file.format), file, true
}

// compareValues returns the number of differing samples and the largest absolute
// difference.
func compareValues(got, want []int64) (differing int, maxDifference int64, err error) {
	if len(got) != len(want) {
		return 0, 0, fmt.Errorf("%d samples, want %d", len(got), len(want))
	}
	for n := range got {
		d := got[n] - want[n]
		if d < 0 {
			d = -d
		}
		if d != 0 {
			differing++
			maxDifference = max(maxDifference, d)
		}
	}
	return differing, maxDifference, nil
}

// TestEdgeFilesMatchReferees decodes each reader test file and compares every
// sample with the output of independent decoders: GDCM's gdcmconv and DCMTK's
// command-line tools.
func TestEdgeFilesMatchReferees(t *testing.T) {
	requirePath(t, edgeDir)
	cases := []struct {
		file     string
		syntax   string
		referees []referee
	}{
		{"MR_small_RLE.dcm", RLELossless, []referee{dcmdrle, gdcmRaw}},
		{"MR_small_jp2klossless.dcm", JPEG2000Lossless, []referee{gdcmRaw}},
		{"MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless, []referee{dcmdjpls, gdcmRaw}},
		{"JPEG2000.dcm", JPEG2000, []referee{gdcmRaw}},
		{"JPEG-LL.dcm", JPEGLosslessSV1, []referee{gdcmRaw, dcmdjpeg}},
		{"JPEGLosslessP14SV1_1s_1f_u_16_16.dcm", JPEGLosslessSV1, []referee{gdcmRaw, dcmdjpeg}},
		{"693_J2KR.dcm", JPEG2000Lossless, []referee{gdcmRaw}},
		{"CT1_JLSN.dcm", JPEGLSNearLossless, []referee{dcmdjpls, gdcmRaw}},
		{"image_dfl.dcm", "1.2.840.10008.1.2.1.99", []referee{dcmconv, gdcmRaw}},
		{"MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", []referee{dcmconv, gdcmRaw}},
		{"MR_small_implicit.dcm", "1.2.840.10008.1.2", []referee{dcmconv, gdcmRaw}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(edgeDir, tc.file)
			requirePath(t, path)
			got, file := decodeFileValues(t, path)
			if file.syntax != tc.syntax {
				t.Fatalf("transfer syntax = %s, want %s", file.syntax, tc.syntax)
			}

			lowest, highest := slices.Min(got), slices.Max(got)
			if lowest == highest {
				t.Fatalf("every sample is %d, so the comparison would prove nothing", lowest)
			}

			compared := 0
			for _, r := range tc.referees {
				want, refereeFile, ok := refereeValues(t, r, path)
				if !ok {
					t.Logf("%s is not installed, so it is not compared", r.name)
					continue
				}
				if refereeFile.format.Rows != file.format.Rows || refereeFile.format.Columns != file.format.Columns {
					t.Fatalf("%s: %d × %d, this package %d × %d", r.name, refereeFile.format.Rows, refereeFile.format.Columns, file.format.Rows, file.format.Columns)
				}
				differing, maxDifference, err := compareValues(got, want)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				if differing != 0 {
					t.Errorf("%s: %d of %d samples differ, by up to %d", r.name, differing, len(got), maxDifference)
				}
				compared++
			}
			if compared == 0 {
				t.Skip("skipping: no referee is installed (apt packages dcmtk and libgdcm-tools)")
			}
			t.Logf("%d × %d samples of %d bits, %d to %d, match %d referees", file.format.Rows, file.format.Columns, file.format.BitsStored, lowest, highest, compared)
		})
	}
}

// TestEncodedCTMatchesReferees compresses a CT slice with DCMTK's and GDCM's
// encoders and compares this package's decoding of each result with an
// independent decoder's. Lossless results must also equal the original samples.
func TestEncodedCTMatchesReferees(t *testing.T) {
	source := filepath.Join(edgeDir, "CT_small.dcm")
	requirePath(t, source)
	original, originalFile := decodeFileValues(t, source)

	cases := []struct {
		name     string
		command  string
		args     []string
		syntax   string
		lossless bool
		referee  referee
		// maxDifference bounds the difference from the referee in stored values.
		maxDifference int64
	}{
		{"RLE", "dcmcrle", nil, RLELossless, true, gdcmRaw, 0},
		{"JPEG lossless SV1", "dcmcjpeg", []string{"+e1"}, JPEGLosslessSV1, true, gdcmRaw, 0},
		{"JPEG lossless predictor 6", "dcmcjpeg", []string{"+el", "+sv", "6"}, JPEGLossless, true, gdcmRaw, 0},
		{"JPEG-LS lossless", "dcmcjpls", []string{"+el"}, JPEGLSLossless, true, gdcmRaw, 0},
		{"JPEG 2000 lossless", "gdcmconv", []string{"--j2k"}, JPEG2000Lossless, true, gdcmRaw, 0},
		// GDCM 3.0.21's --lossy -q 40 writes a codestream that decodes to noise, so
		// the compression ratio is set instead.
		{"JPEG 2000 lossy", "gdcmconv", []string{"--j2k", "--lossy", "-r", "10"}, JPEG2000, false, gdcmRaw, 0},
		{"JPEG extended 12-bit", "dcmcjpeg", []string{"+ee", "+q", "80"}, JPEGExtended, false, gdcmRaw, 0},
		// Go's image/jpeg and libjpeg round the inverse DCT differently, so a few
		// samples differ by 1 (240 of 16384 when this test was written).
		{"JPEG baseline 8-bit", "dcmcjpeg", []string{"+eb", "+q", "80"}, JPEGBaseline, false, gdcmRaw, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			command, err := exec.LookPath(tc.command)
			if err != nil {
				t.Skipf("skipping: %s is not installed (apt packages dcmtk and libgdcm-tools)", tc.command)
			}
			path := filepath.Join(t.TempDir(), "encoded.dcm")
			args := append(append([]string{}, tc.args...), source, path)
			if output, err := exec.Command(command, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s %v failed: %v\n%s", tc.command, args, err, output)
			}

			got, file := decodeFileValues(t, path)
			if file.syntax != tc.syntax {
				t.Fatalf("%s wrote transfer syntax %s, want %s", tc.command, file.syntax, tc.syntax)
			}
			if tc.lossless {
				if file.format != originalFile.format {
					t.Fatalf("format %+v, original %+v", file.format, originalFile.format)
				}
				if differing, maxDifference, err := compareValues(got, original); err != nil || differing != 0 {
					t.Errorf("%d samples differ from the original, by up to %d (%v)", differing, maxDifference, err)
				}
			}

			want, _, ok := refereeValues(t, tc.referee, path)
			if !ok {
				t.Skipf("skipping: referee %s is not installed", tc.referee.name)
			}
			differing, maxDifference, err := compareValues(got, want)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d of %d samples differ from %s, by up to %d", file.format.String(), differing, len(got), tc.referee.name, maxDifference)
			if maxDifference > tc.maxDifference {
				t.Errorf("%d samples differ from %s by up to %d, want at most %d", differing, tc.referee.name, maxDifference, tc.maxDifference)
			}
		})
	}
}

// TestJPEG2000SignednessFollowsHeader decodes JPEG 2000 frames whose codestream
// signedness disagrees with PixelRepresentation and requires the header to win:
// the decoded bits are read as PixelRepresentation defines. The files are made from a
// CT slice with negative samples by gdcmconv, with dcmodify changing
// PixelRepresentation before or after compression.
func TestJPEG2000SignednessFollowsHeader(t *testing.T) {
	source := filepath.Join(sharedData, "dicom", "real_ncct_series", "IM0000.dcm")
	requirePath(t, source)
	gdcmconv, err := exec.LookPath("gdcmconv")
	if err != nil {
		t.Skip("skipping: gdcmconv is not installed (apt package libgdcm-tools)")
	}
	dcmodify, err := exec.LookPath("dcmodify")
	if err != nil {
		t.Skip("skipping: dcmodify is not installed (apt package dcmtk)")
	}
	original, originalFile := decodeFileValues(t, source)
	if originalFile.format.PixelRepresentation != 1 || slices.Min(original) >= 0 {
		t.Fatalf("source has PixelRepresentation %d and minimum %d, want signed samples with negative values", originalFile.format.PixelRepresentation, slices.Min(original))
	}
	run := func(command string, args ...string) {
		t.Helper()
		if output, err := exec.Command(command, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v failed: %v\n%s", filepath.Base(command), args, err, output)
		}
	}
	setPixelRepresentation := func(path string, value int) {
		run(dcmodify, "--no-backup", "--modify", fmt.Sprintf("(0028,0103)=%d", value), path)
	}
	dir := t.TempDir()

	// Signed samples coded as an unsigned codestream, then labelled signed again.
	unsignedCopy := filepath.Join(dir, "unsigned.dcm")
	unsignedCodestream := filepath.Join(dir, "unsigned_codestream.dcm")
	content, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unsignedCopy, content, 0o644); err != nil {
		t.Fatal(err)
	}
	setPixelRepresentation(unsignedCopy, 0)
	run(gdcmconv, "--j2k", unsignedCopy, unsignedCodestream)
	setPixelRepresentation(unsignedCodestream, 1)

	// Signed samples coded as a signed codestream, then labelled unsigned.
	signedCodestream := filepath.Join(dir, "signed_codestream.dcm")
	run(gdcmconv, "--j2k", source, signedCodestream)
	setPixelRepresentation(signedCodestream, 0)

	asUnsigned := make([]int64, len(original))
	for n, v := range original {
		asUnsigned[n] = v & 0xffff
	}
	cases := []struct {
		name       string
		path       string
		codestream byte // the Ssiz sign bit the codestream must have
		want       []int64
	}{
		{"unsigned codestream, signed header", unsignedCodestream, 0, original},
		{"signed codestream, unsigned header", signedCodestream, 0x80, asUnsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := readDICOMFile(t, tc.path)
			siz := bytes.Index(file.frame, []byte{0xff, 0x51})
			if siz < 0 || len(file.frame) < siz+42 {
				t.Fatal("the codestream has no SIZ segment")
			}
			if sign := file.frame[siz+40] & 0x80; sign != tc.codestream {
				t.Fatalf("codestream sign bit is %#x, want %#x", sign, tc.codestream)
			}
			got, _ := decodeFileValues(t, tc.path)
			if differing, maxDifference, err := compareValues(got, tc.want); err != nil || differing != 0 {
				t.Errorf("%d samples differ, by up to %d (%v)", differing, maxDifference, err)
			}
		})
	}
}
