package inference

import (
	"context"
	"os"
	"strings"
	"testing"
)

func doubleModelIO() SessionIO {
	return SessionIO{InputName: "x", InputChannels: 2, OutputName: "y", OutputChannels: 2, PatchSize: [3]int{16, 24, 32}}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read test model: %v (regenerate with /usr/bin/python3 inference/testdata/make_models.py)", err)
	}
	return data
}

func TestParseDevice(t *testing.T) {
	for _, s := range []string{"auto", "cpu", "cuda"} {
		d, err := ParseDevice(s)
		if err != nil || string(d) != s {
			t.Errorf("ParseDevice(%q) = %q, %v, want %q, nil", s, d, err, s)
		}
	}
	for _, s := range []string{"", "gpu", "CUDA"} {
		if _, err := ParseDevice(s); err == nil {
			t.Errorf("ParseDevice(%q) returned no error", s)
		}
	}
}

func TestInitRuntimeSecondPath(t *testing.T) {
	requireRuntime(t)
	if err := InitRuntime(runtimeState.libraryPath); err != nil {
		t.Errorf("InitRuntime with the same path again: %v", err)
	}
	err := InitRuntime("/nonexistent/libonnxruntime.so")
	if err == nil || !strings.Contains(err.Error(), "already initialized") {
		t.Errorf("InitRuntime with another path: got %v, want an 'already initialized' error", err)
	}
	if RuntimeVersion() == "" {
		t.Error("RuntimeVersion is empty after InitRuntime")
	}
}

// The CPU build of ONNX Runtime has no CUDA execution provider, so these tests cover
// the failure and fallback paths of device selection.

func TestSessionCUDAOnCPULibraryFails(t *testing.T) {
	requireRuntime(t)
	s, info, err := NewSession(readTestdata(t, "double_c2_p16x24x32.onnx"), doubleModelIO(), DeviceCUDA)
	if err == nil {
		s.Close()
		t.Skipf("the ONNX Runtime library has a working CUDA provider (device %s), so the failure path cannot be tested", info.Used)
	}
	msg := err.Error()
	wants := []string{"device cuda requested", "CUDA is not available", "--device auto or cpu"}
	if missingCUDAProviderFiles() != "" {
		wants = append(wants, "libonnxruntime_providers_cuda.so not found")
	}
	for _, want := range wants {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if info.Used != "" {
		t.Errorf("Used = %q after a failed CUDA session, want empty", info.Used)
	}
}

func TestSessionAutoFallsBackToCPU(t *testing.T) {
	requireRuntime(t)
	s, info, err := NewSession(readTestdata(t, "double_c2_p16x24x32.onnx"), doubleModelIO(), DeviceAuto)
	if err != nil {
		t.Fatalf("NewSession(auto): %v", err)
	}
	defer s.Close()
	if info.Used == DeviceCUDA {
		t.Skip("the ONNX Runtime library has a working CUDA provider, so the fallback cannot be tested")
	}
	if info.Requested != DeviceAuto || info.Used != DeviceCPU || s.Device() != DeviceCPU {
		t.Errorf("device info = %+v, session device %s; want requested auto, used cpu", info, s.Device())
	}
	t.Logf("fallback reason: %s", info.FallbackReason)
	if !strings.Contains(strings.ToLower(info.FallbackReason), "cuda") {
		t.Errorf("FallbackReason = %q, want the CUDA error from ONNX Runtime", info.FallbackReason)
	}

	// The fallback session works.
	patch := make([]float32, 2*16*24*32)
	for i := range patch {
		patch[i] = float32(i%97) - 48
	}
	out, err := s.PredictPatch(context.Background(), patch)
	if err != nil {
		t.Fatalf("PredictPatch on the fallback session: %v", err)
	}
	for i := range patch {
		if out[i] != 2*patch[i] {
			t.Fatalf("output[%d] = %g, want %g", i, out[i], 2*patch[i])
		}
	}
}

func TestSessionCPUHasNoFallbackReason(t *testing.T) {
	requireRuntime(t)
	s, info, err := NewSession(readTestdata(t, "double_c2_p16x24x32.onnx"), doubleModelIO(), DeviceCPU)
	if err != nil {
		t.Fatalf("NewSession(cpu): %v", err)
	}
	defer s.Close()
	if info.Used != DeviceCPU || info.FallbackReason != "" {
		t.Errorf("device info = %+v, want used cpu and no fallback reason", info)
	}
}

func TestSessionRejectsBadInput(t *testing.T) {
	requireRuntime(t)
	data := readTestdata(t, "double_c2_p16x24x32.onnx")

	wrongName := doubleModelIO()
	wrongName.InputName = "image"
	// ONNX Runtime checks tensor names when the network runs, not when the session is
	// created.
	if s, _, err := NewSession(data, wrongName, DeviceCPU); err == nil {
		_, err := s.PredictPatch(context.Background(), make([]float32, 2*16*24*32))
		if err == nil || !strings.Contains(err.Error(), "image") {
			t.Errorf("PredictPatch with an input name the model lacks: got %v, want an error naming it", err)
		}
		s.Close()
	}

	s, _, err := NewSession(data, doubleModelIO(), DeviceCPU)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	if _, err := s.PredictPatch(context.Background(), make([]float32, 10)); err == nil {
		t.Error("PredictPatch with 10 values returned no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.PredictPatch(ctx, make([]float32, 2*16*24*32)); err != context.Canceled {
		t.Errorf("PredictPatch with a cancelled context: got %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := s.PredictPatch(context.Background(), make([]float32, 2*16*24*32)); err == nil {
		t.Error("PredictPatch after Close returned no error")
	}
}
