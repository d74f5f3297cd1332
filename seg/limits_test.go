package seg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
)

// syntheticSEG writes the default synthetic series and returns its source and the
// encoded SEG of its layers.
func syntheticSEG(t *testing.T) (*Source, []byte) {
	t.Helper()
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	content, err := encodeSegmentation(src, syntheticLayers(src.Grid).Segments(), WriteOptions{SoftwareVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return src, content
}

// nestSequences inserts levels nested undefined-length ContentSequence (0040,A730)
// items, in explicit VR little endian, just before the PixelData element of content.
func nestSequences(t *testing.T, content []byte, levels int) []byte {
	t.Helper()
	at := bytes.LastIndex(content, []byte{0xe0, 0x7f, 0x10, 0x00, 'O', 'B'})
	if at < 0 {
		t.Fatal("PixelData header not found in the encoded SEG")
	}
	open := []byte{0x40, 0x00, 0x30, 0xa7, 'S', 'Q', 0, 0, 0xff, 0xff, 0xff, 0xff}
	open = binary.LittleEndian.AppendUint16(open, 0xfffe)
	open = binary.LittleEndian.AppendUint16(open, 0xe000)
	open = binary.LittleEndian.AppendUint32(open, 0xffffffff)
	var closing []byte
	for _, delimiter := range []uint16{0xe00d, 0xe0dd} {
		closing = binary.LittleEndian.AppendUint16(closing, 0xfffe)
		closing = binary.LittleEndian.AppendUint16(closing, delimiter)
		closing = binary.LittleEndian.AppendUint32(closing, 0)
	}

	var out bytes.Buffer
	out.Grow(len(content) + levels*(len(open)+len(closing)))
	out.Write(content[:at])
	for range levels {
		out.Write(open)
	}
	for range levels {
		out.Write(closing)
	}
	out.Write(content[at:])
	return out.Bytes()
}

func TestReadSequenceDepth(t *testing.T) {
	src, content := syntheticSEG(t)
	cases := []struct {
		name   string
		levels int
		ok     bool
	}{
		{"at the limit", maxSequenceDepth, true},
		{"one level past the limit", maxSequenceDepth + 1, false},
		// A million levels overflowed the goroutine stack in the length walk.
		{"a million levels", 1_000_000, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decode(nestSequences(t, content, c.levels), src)
			if c.ok {
				if err != nil {
					t.Fatalf("decode with %d nested sequences: %v, want no error", c.levels, err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("decode with %d nested sequences: error %v, want ErrUnsupported", c.levels, err)
			}
			for _, want := range []string{"ContentSequence (0040,a730)", "nested 33 levels deep", "at most 32"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("decode with %d nested sequences: error %q does not contain %q", c.levels, err, want)
				}
			}
		})
	}
}

func TestReadNamesFileOfDeepSequence(t *testing.T) {
	src, content := syntheticSEG(t)
	path := filepath.Join(t.TempDir(), "deep.dcm")
	if err := os.WriteFile(path, nestSequences(t, content, maxSequenceDepth+1), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := Read(path, src)
	if err == nil {
		t.Fatalf("Read of a SEG with %d nested sequences: no error", maxSequenceDepth+1)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Read of a SEG with %d nested sequences: error %q does not name the file %s", maxSequenceDepth+1, err, path)
	}
}

// manySegments returns count segments on g, each with one voxel set on slice
// n mod Size[2], so that every segment has a frame.
func manySegments(g volume.Grid, count int) []Segment {
	segments := make([]Segment, count)
	for n := range segments {
		mask := volume.NewMask(g)
		mask.Labels[g.Offset(0, 0, n%g.Size[2])] = 1
		segments[n] = Segment{Number: n + 1, Label: fmt.Sprintf("Segment %d", n+1), Mask: mask}
	}
	return segments
}

func TestReadSegmentCount(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)

	for _, count := range []int{maxSegments, maxSegments + 1} {
		content, err := encodeSegmentation(src, manySegments(src.Grid, count), WriteOptions{SoftwareVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(content, src)
		if count <= maxSegments {
			if err != nil {
				t.Errorf("decode with %d segments: %v, want no error", count, err)
			} else if len(got) != count {
				t.Errorf("decode with %d segments: read %d segments", count, len(got))
			}
			continue
		}
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("decode with %d segments: error %v, want ErrUnsupported", count, err)
		}
		want := fmt.Sprintf("SegmentSequence (0062,0002) has %d items, but at most %d", count, maxSegments)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("decode with %d segments: error %q does not contain %q", count, err, want)
		}
	}
}
