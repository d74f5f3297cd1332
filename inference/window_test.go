package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestPatchStarts(t *testing.T) {
	tests := []struct {
		size, patch int
		overlap     float64
		want        []int
	}{
		{size: 96, patch: 96, overlap: 0.25, want: []int{0}},
		{size: 50, patch: 96, overlap: 0.25, want: []int{0}},
		{size: 97, patch: 96, overlap: 0.25, want: []int{0, 1}},
		{size: 200, patch: 96, overlap: 0.25, want: []int{0, 72, 104}},
		{size: 240, patch: 96, overlap: 0.25, want: []int{0, 72, 144}},
		{size: 40, patch: 32, overlap: 0.25, want: []int{0, 8}},
		{size: 100, patch: 64, overlap: 0.25, want: []int{0, 36}},
		{size: 64, patch: 32, overlap: 0, want: []int{0, 32}},
		{size: 65, patch: 32, overlap: 0, want: []int{0, 32, 33}},
		{size: 10, patch: 4, overlap: 0.5, want: []int{0, 2, 4, 6}},
		// floor(10*(1-0.1)) is 9 although 10*0.9 rounds to 9.000000000000002.
		{size: 30, patch: 10, overlap: 0.1, want: []int{0, 9, 18, 20}},
		// An overlap near 1 gives the minimum stride of 1.
		{size: 6, patch: 4, overlap: 0.99, want: []int{0, 1, 2}},
	}
	for _, tc := range tests {
		got := PatchStarts(tc.size, tc.patch, tc.overlap)
		if !slices.Equal(got, tc.want) {
			t.Errorf("PatchStarts(%d, %d, %g) = %v, want %v", tc.size, tc.patch, tc.overlap, got, tc.want)
		}
	}
}

// coordinateTensor returns a 3-channel tensor whose channel a holds each voxel's index
// along axis a (d, h, w).
func coordinateTensor(dims [3]int) Tensor {
	t := Tensor{Channels: 3, Dims: dims, Data: make([]float32, 3*dims[0]*dims[1]*dims[2])}
	n := t.NumVoxels()
	i := 0
	for d := 0; d < dims[0]; d++ {
		for h := 0; h < dims[1]; h++ {
			for w := 0; w < dims[2]; w++ {
				t.Data[i] = float32(d)
				t.Data[n+i] = float32(h)
				t.Data[2*n+i] = float32(w)
				i++
			}
		}
	}
	return t
}

// originPredictor reads the patch origin from the first voxel of a coordinate patch and
// records it. It returns three channels with the index of every patch voxel along d, h
// and w, computed from that origin and not copied from the input.
type originPredictor struct {
	patch   [3]int
	origins [][3]int
}

func (p *originPredictor) PredictPatch(_ context.Context, in []float32) ([]float32, error) {
	voxels := p.patch[0] * p.patch[1] * p.patch[2]
	origin := [3]int{int(in[0]), int(in[voxels]), int(in[2*voxels])}
	p.origins = append(p.origins, origin)
	out := make([]float32, 3*voxels)
	i := 0
	for pd := 0; pd < p.patch[0]; pd++ {
		for ph := 0; ph < p.patch[1]; ph++ {
			for pw := 0; pw < p.patch[2]; pw++ {
				out[i] = float32(origin[0] + pd)
				out[voxels+i] = float32(origin[1] + ph)
				out[2*voxels+i] = float32(origin[2] + pw)
				i++
			}
		}
	}
	return out, nil
}

func TestSlidingWindowCoversEveryVoxel(t *testing.T) {
	tests := []struct {
		dims, patch [3]int
		overlap     float64
	}{
		{dims: [3]int{40, 100, 70}, patch: [3]int{32, 64, 96}, overlap: 0.25},
		{dims: [3]int{33, 17, 50}, patch: [3]int{8, 16, 12}, overlap: 0.5},
		{dims: [3]int{5, 6, 7}, patch: [3]int{8, 8, 8}, overlap: 0.25},
		{dims: [3]int{24, 24, 24}, patch: [3]int{8, 8, 8}, overlap: 0},
		{dims: [3]int{13, 9, 11}, patch: [3]int{4, 4, 4}, overlap: 0.9},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("dims%v_patch%v_overlap%g", tc.dims, tc.patch, tc.overlap)
		t.Run(name, func(t *testing.T) {
			predictor := &originPredictor{patch: tc.patch}
			input := coordinateTensor(tc.dims)
			opts := WindowOptions{PatchSize: tc.patch, Overlap: tc.overlap, PadValues: []float32{-1, -1, -1}, OutputChannels: 3}
			out, err := SlidingWindow(context.Background(), predictor, input, opts, nil)
			if err != nil {
				t.Fatalf("SlidingWindow: %v", err)
			}

			// The predictor saw each start combination once, D-major.
			var wantOrigins [][3]int
			for _, d := range PatchStarts(tc.dims[0], tc.patch[0], tc.overlap) {
				for _, h := range PatchStarts(tc.dims[1], tc.patch[1], tc.overlap) {
					for _, w := range PatchStarts(tc.dims[2], tc.patch[2], tc.overlap) {
						wantOrigins = append(wantOrigins, [3]int{d, h, w})
					}
				}
			}
			if !slices.Equal(predictor.origins, wantOrigins) {
				t.Errorf("origins = %v, want %v", predictor.origins, wantOrigins)
			}

			// Every voxel lies inside at least one patch.
			covered := make([]bool, input.NumVoxels())
			for _, o := range predictor.origins {
				for d := o[0]; d < min(o[0]+tc.patch[0], tc.dims[0]); d++ {
					for h := o[1]; h < min(o[1]+tc.patch[1], tc.dims[1]); h++ {
						for w := o[2]; w < min(o[2]+tc.patch[2], tc.dims[2]); w++ {
							covered[(d*tc.dims[1]+h)*tc.dims[2]+w] = true
						}
					}
				}
			}
			if i := slices.Index(covered, false); i >= 0 {
				t.Fatalf("voxel %d is in no patch", i)
			}

			// Every patch returned the same index for a voxel, so the blend must give
			// back exactly the voxel's own index.
			if out.Channels != 3 || out.Dims != tc.dims {
				t.Fatalf("output shape = %d channels of %v, want 3 of %v", out.Channels, out.Dims, tc.dims)
			}
			for i, v := range out.Data {
				if v != input.Data[i] {
					c, voxel := i/input.NumVoxels(), i%input.NumVoxels()
					t.Fatalf("channel %d voxel %d = %g, want its index %g", c, voxel, v, input.Data[i])
				}
			}
		})
	}
}

// gaussian is the importance weight along one axis, written out independently of
// gaussianImportance.
func gaussian(x, patch int) float64 {
	sigma := float64(patch) / 8
	t := (float64(x) - float64(patch-1)/2) / sigma
	return math.Exp(-t * t / 2)
}

func TestSlidingWindowGaussianBlend(t *testing.T) {
	// Along W, 40 voxels with patch 32 and overlap 0.25 give patches at 0 and 8. D and H
	// have length 1, so their Gaussian factor is exp(0) = 1. The first patch returns 0,
	// the second 1, so the output is the second patch's share of the weight.
	dims := [3]int{1, 1, 40}
	patch := [3]int{1, 1, 32}
	calls := 0
	predictor := PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) {
		out := make([]float32, len(in))
		if calls == 1 {
			fill(out, 1)
		}
		calls++
		return out, nil
	})

	input := Tensor{Channels: 1, Dims: dims, Data: make([]float32, 40)}
	out, err := SlidingWindow(context.Background(), predictor, input,
		WindowOptions{PatchSize: patch, Overlap: 0.25, PadValues: []float32{0}, OutputChannels: 1}, nil)
	if err != nil {
		t.Fatalf("SlidingWindow: %v", err)
	}

	for w := 0; w < 40; w++ {
		var first, second float64
		if w < 32 {
			first = max(gaussian(w, 32), MinImportance)
		}
		if w >= 8 {
			second = max(gaussian(w-8, 32), MinImportance)
		}
		want := second / (first + second)
		if got := float64(out.Data[w]); math.Abs(got-want) > 1e-6 {
			t.Errorf("w = %d: blended %g, want %g", w, got, want)
		}
	}

	// At w = 8 the second patch's weight is clamped: exp(-7.5) is below MinImportance.
	if gaussian(0, 32) >= MinImportance {
		t.Errorf("the test expects the patch edge weight %g to be below MinImportance", gaussian(0, 32))
	}
}

func TestSlidingWindowPadsShortAxes(t *testing.T) {
	// The predictor checks the pad values it receives and returns the input's channel
	// sum, so the padding must be cropped away again.
	dims := [3]int{3, 5, 2}
	patch := [3]int{4, 8, 4}
	pad := []float32{-1, 0.5}
	input := Tensor{Channels: 2, Dims: dims, Data: make([]float32, 2*30)}
	for i := range input.Data {
		input.Data[i] = float32(i)
	}

	var padErr error
	predictor := PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) {
		voxels := 4 * 8 * 4
		out := make([]float32, voxels)
		for c := 0; c < 2; c++ {
			for pd := 0; pd < 4; pd++ {
				for ph := 0; ph < 8; ph++ {
					for pw := 0; pw < 4; pw++ {
						i := (pd*8+ph)*4 + pw
						v := in[c*voxels+i]
						inside := pd < 3 && ph < 5 && pw < 2
						if !inside && v != pad[c] && padErr == nil {
							padErr = fmt.Errorf("channel %d patch voxel (%d, %d, %d) = %g, want pad %g", c, pd, ph, pw, v, pad[c])
						}
						out[i] += v
					}
				}
			}
		}
		return out, nil
	})

	out, err := SlidingWindow(context.Background(), predictor, input,
		WindowOptions{PatchSize: patch, Overlap: 0.5, PadValues: pad, OutputChannels: 1}, nil)
	if err != nil {
		t.Fatalf("SlidingWindow: %v", err)
	}
	if padErr != nil {
		t.Fatal(padErr)
	}

	if out.Dims != dims || len(out.Data) != 30 {
		t.Fatalf("output dims %v with %d values, want %v with 30", out.Dims, len(out.Data), dims)
	}
	for i := 0; i < 30; i++ {
		if want := input.Data[i] + input.Data[30+i]; out.Data[i] != want {
			t.Errorf("voxel %d = %g, want %g", i, out.Data[i], want)
		}
	}
}

func TestSlidingWindowProgressPerPatch(t *testing.T) {
	dims := [3]int{20, 30, 25}
	patch := [3]int{8, 16, 8}
	total := CountPatches(dims, patch, 0.25)
	// Starts: D 0, 6, 12. H 0, 12, 14. W 0, 6, 12, 17.
	if want := 3 * 3 * 4; total != want {
		t.Fatalf("CountPatches = %d, want %d", total, want)
	}
	calls := 0
	var reports [][2]int
	predictor := PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) {
		calls++
		return in, nil
	})
	input := Tensor{Channels: 1, Dims: dims, Data: make([]float32, 20*30*25)}
	_, err := SlidingWindow(context.Background(), predictor, input,
		WindowOptions{PatchSize: patch, Overlap: 0.25, PadValues: []float32{0}, OutputChannels: 1},
		func(done, total int) {
			if done != calls {
				t.Errorf("progress(%d, %d) after %d predictor calls", done, total, calls)
			}
			reports = append(reports, [2]int{done, total})
		})
	if err != nil {
		t.Fatalf("SlidingWindow: %v", err)
	}
	if len(reports) != total {
		t.Fatalf("progress called %d times, want once per patch: %d", len(reports), total)
	}
	for i, r := range reports {
		if r != [2]int{i + 1, total} {
			t.Errorf("report %d = %v, want [%d %d]", i, r, i+1, total)
		}
	}
}

func TestSlidingWindowCancelBetweenPatches(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	predictor := PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		return in, nil
	})
	progressCalls := 0
	input := Tensor{Channels: 1, Dims: [3]int{16, 16, 16}, Data: make([]float32, 16*16*16)}
	_, err := SlidingWindow(ctx, predictor, input,
		WindowOptions{PatchSize: [3]int{8, 8, 8}, Overlap: 0, PadValues: []float32{0}, OutputChannels: 1},
		func(done, total int) { progressCalls++ })
	if err != context.Canceled {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if calls != 3 {
		t.Errorf("predictor called %d times, want 3: the window must stop before the next patch", calls)
	}
	if progressCalls != 3 {
		t.Errorf("progress called %d times, want 3", progressCalls)
	}
}

func TestSlidingWindowPredictorErrors(t *testing.T) {
	input := Tensor{Channels: 1, Dims: [3]int{8, 8, 8}, Data: make([]float32, 512)}
	opts := WindowOptions{PatchSize: [3]int{8, 8, 8}, PadValues: []float32{0}, OutputChannels: 2}

	failure := errors.New("device lost")
	_, err := SlidingWindow(context.Background(), PredictorFunc(func(context.Context, []float32) ([]float32, error) {
		return nil, failure
	}), input, opts, nil)
	if !errors.Is(err, failure) || !strings.Contains(err.Error(), "patch 1 of 1") {
		t.Errorf("predictor error: got %v, want it wrapped with the patch number", err)
	}

	_, err = SlidingWindow(context.Background(), PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) {
		return in, nil // one channel where two are expected
	}), input, opts, nil)
	if err == nil || !strings.Contains(err.Error(), "returned 512 values, want 1024") {
		t.Errorf("short predictor output: got %v, want a length error", err)
	}
}

func TestSlidingWindowRejectsInvalidArguments(t *testing.T) {
	valid := Tensor{Channels: 1, Dims: [3]int{4, 4, 4}, Data: make([]float32, 64)}
	validOpts := WindowOptions{PatchSize: [3]int{4, 4, 4}, Overlap: 0.25, PadValues: []float32{0}, OutputChannels: 1}
	identity := PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) { return in, nil })

	tests := []struct {
		name   string
		input  Tensor
		opts   func(*WindowOptions)
		reason string
	}{
		{"zero channels", Tensor{Channels: 0, Dims: valid.Dims}, nil, "0 channels"},
		{"zero depth", Tensor{Channels: 1, Dims: [3]int{0, 4, 4}}, nil, "dimension 0 is 0"},
		{"short data", Tensor{Channels: 1, Dims: valid.Dims, Data: make([]float32, 63)}, nil, "63 values, want 64"},
		{"zero patch", valid, func(o *WindowOptions) { o.PatchSize[2] = 0 }, "dimension 2 is 0"},
		{"overlap 1", valid, func(o *WindowOptions) { o.Overlap = 1 }, "overlap 1"},
		{"negative overlap", valid, func(o *WindowOptions) { o.Overlap = -0.1 }, "overlap -0.1"},
		{"NaN overlap", valid, func(o *WindowOptions) { o.Overlap = math.NaN() }, "overlap NaN"},
		{"missing pad values", valid, func(o *WindowOptions) { o.PadValues = nil }, "0 pad values for 1 input channels"},
		{"zero output channels", valid, func(o *WindowOptions) { o.OutputChannels = 0 }, "output channel count 0"},
	}
	for _, tc := range tests {
		opts := validOpts
		opts.PadValues = slices.Clone(validOpts.PadValues)
		if tc.opts != nil {
			tc.opts(&opts)
		}
		_, err := SlidingWindow(context.Background(), identity, tc.input, opts, nil)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: got error %v, want one containing %q", tc.name, err, tc.reason)
		}
	}
}

// The ONNX model doubles its input, so the stitched output must be exactly twice the
// input whatever the overlap, padding and Gaussian weights.
func TestSlidingWindowDoublingModel(t *testing.T) {
	requireRuntime(t)
	io := doubleModelIO()
	s, _, err := NewSession(readTestdata(t, "double_c2_p16x24x32.onnx"), io, DeviceCPU)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	defer s.Close()

	tests := []struct {
		name string
		dims [3]int
	}{
		{"not a multiple of the patch", [3]int{37, 50, 45}},
		{"smaller than one patch", [3]int{10, 20, 7}},
		{"short W axis only", [3]int{40, 30, 20}},
		{"exactly one patch", [3]int{16, 24, 32}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.dims[0] * tc.dims[1] * tc.dims[2]
			input := Tensor{Channels: 2, Dims: tc.dims, Data: make([]float32, 2*n)}
			for i := range input.Data {
				input.Data[i] = float32(rng.NormFloat64() * 100)
			}
			patches := 0
			out, err := SlidingWindow(context.Background(), s, input,
				WindowOptions{PatchSize: io.PatchSize, Overlap: 0.25, PadValues: []float32{-1, 0}, OutputChannels: 2},
				func(done, total int) { patches = total })
			if err != nil {
				t.Fatalf("SlidingWindow: %v", err)
			}
			if want := CountPatches(tc.dims, io.PatchSize, 0.25); patches != want {
				t.Errorf("ran %d patches, want %d", patches, want)
			}
			if out.Channels != 2 || out.Dims != tc.dims {
				t.Fatalf("output is %d channels of %v, want 2 of %v", out.Channels, out.Dims, tc.dims)
			}
			for i, v := range input.Data {
				if out.Data[i] != 2*v {
					t.Fatalf("value %d (channel %d) = %g, want exactly %g", i, i/n, out.Data[i], 2*v)
				}
			}
		})
	}
}

// BenchmarkSlidingWindowBlend measures patch extraction and Gaussian blending alone,
// with a predictor that returns its input, for 96³ patches over a 128³ volume.
func BenchmarkSlidingWindowBlend(b *testing.B) {
	dims := [3]int{128, 128, 128}
	input := Tensor{Channels: 1, Dims: dims, Data: make([]float32, 128*128*128)}
	identity := PredictorFunc(func(_ context.Context, in []float32) ([]float32, error) { return in, nil })
	opts := WindowOptions{PatchSize: [3]int{96, 96, 96}, Overlap: 0.25, PadValues: []float32{-1}, OutputChannels: 1}
	for b.Loop() {
		if _, err := SlidingWindow(context.Background(), identity, input, opts, nil); err != nil {
			b.Fatal(err)
		}
	}
}
