package dicomcodec

import (
	"errors"
	"testing"
)

// fuzzSizeCap bounds fuzz inputs. The seed frames are under 1 KiB.
const fuzzSizeCap = 1 << 14

// fuzzDecode fuzzes the decoder of the given transfer syntaxes, seeded with the
// testdata frames of those syntaxes. Each input is decoded with the pixel format of
// the seed chosen by its second argument. Decoding must not panic or crash, every
// error must wrap ErrMalformed or ErrUnsupported, and a success must give exactly
// one frame of samples.
func fuzzDecode(f *testing.F, syntaxes ...string) {
	fixtures := fixturesOf(f, syntaxes...)
	if len(fixtures) == 0 {
		f.Fatalf("testdata/expected.json has no fixtures of %v", syntaxes)
	}
	for n, fx := range fixtures {
		f.Add(fx.frame(f), uint8(n))
	}

	f.Fuzz(func(t *testing.T, frame []byte, pick uint8) {
		if len(frame) > fuzzSizeCap {
			t.Skip()
		}
		fx := fixtures[int(pick)%len(fixtures)]
		out, err := Decode(fx.Syntax, frame, fx.format())
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		if len(out) != fx.format().frameBytes() {
			t.Fatalf("decoded %d bytes, want %d for %v", len(out), fx.format().frameBytes(), fx.format())
		}
	})
}

func FuzzDecodeRLE(f *testing.F) { fuzzDecode(f, RLELossless) }

func FuzzDecodeJPEG(f *testing.F) {
	fuzzDecode(f, JPEGBaseline, JPEGExtended, JPEGLossless, JPEGLosslessSV1)
}

func FuzzDecodeJPEGLS(f *testing.F) { fuzzDecode(f, JPEGLSLossless, JPEGLSNearLossless) }

func FuzzDecodeJPEG2000(f *testing.F) { fuzzDecode(f, JPEG2000Lossless, JPEG2000) }

// FuzzSplitFrames groups arbitrary fragments into frames. It must not panic, and a
// success must give the requested number of frames holding every fragment byte.
func FuzzSplitFrames(f *testing.F) {
	f.Add([]byte{0xff, 0xd8, 1, 0xff, 0xd8, 2}, uint8(3), uint8(2))
	f.Add([]byte{0xff, 0x4f, 0xff, 0x51, 9}, uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, fragmentSize, numberOfFrames uint8) {
		if len(data) > fuzzSizeCap {
			t.Skip()
		}
		size := max(int(fragmentSize), 1)
		var fragments [][]byte
		for at := 0; at < len(data); at += size {
			fragments = append(fragments, data[at:min(at+size, len(data))])
		}
		frames, err := SplitFrames(JPEGLossless, fragments, int(numberOfFrames))
		if err != nil {
			return
		}
		total := 0
		for _, frame := range frames {
			total += len(frame)
		}
		if len(frames) != int(numberOfFrames) || total != len(data) {
			t.Fatalf("%d frames of %d bytes in all, want %d frames of %d bytes", len(frames), total, numberOfFrames, len(data))
		}
	})
}
