package seg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
