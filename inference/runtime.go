package inference

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// runtimeState records the one ONNX Runtime environment of this process. onnxruntime_go
// keeps a single global environment, so every package that uses it shares this one.
var runtimeState struct {
	mu          sync.Mutex
	libraryPath string
}

// InitRuntime loads the ONNX Runtime shared library at libraryPath and creates the
// process-wide environment. Calling it again with the same path does nothing. Calling it
// with a different path after a successful call returns an error, because onnxruntime_go
// can hold only one library per process. After a failed call, a later call may try again.
func InitRuntime(libraryPath string) error {
	runtimeState.mu.Lock()
	defer runtimeState.mu.Unlock()

	if ort.IsInitialized() {
		if runtimeState.libraryPath == libraryPath {
			return nil
		}
		return fmt.Errorf("inference: ONNX Runtime is already initialized with %q, cannot switch to %q in the same process", runtimeState.libraryPath, libraryPath)
	}
	if libraryPath == "" {
		return errors.New("inference: no ONNX Runtime library path given: set it to the path of libonnxruntime.so")
	}

	// ONNX Runtime's own log goes to stderr. Only fatal messages are kept there, because
	// every error it logs is also returned to this package as a status.
	ort.SetSharedLibraryPath(libraryPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
		return fmt.Errorf("inference: initialize ONNX Runtime from %q: %w", libraryPath, err)
	}
	runtimeState.libraryPath = libraryPath
	return nil
}

// RuntimeVersion returns the version string of the loaded ONNX Runtime library, or ""
// before [InitRuntime] has succeeded.
func RuntimeVersion() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}

// errRuntimeNotInitialized is returned by functions that need ONNX Runtime before
// [InitRuntime] has succeeded.
var errRuntimeNotInitialized = errors.New("inference: ONNX Runtime is not initialized: call InitRuntime with the path of libonnxruntime.so first")

// Device selects where the networks run.
type Device string

const (
	// DeviceAuto uses CUDA when its execution provider can be added and falls back to
	// the CPU otherwise, reporting why in [DeviceInfo.FallbackReason].
	DeviceAuto Device = "auto"
	// DeviceCPU runs on the CPU execution provider only.
	DeviceCPU Device = "cpu"
	// DeviceCUDA requires the CUDA execution provider and fails when it cannot be added.
	DeviceCUDA Device = "cuda"
)

// ParseDevice converts a command-line value ("auto", "cpu" or "cuda") to a Device.
func ParseDevice(s string) (Device, error) {
	switch d := Device(s); d {
	case DeviceAuto, DeviceCPU, DeviceCUDA:
		return d, nil
	}
	return "", fmt.Errorf("inference: unknown device %q: use auto, cpu or cuda", s)
}

// DeviceInfo is the outcome of device selection.
type DeviceInfo struct {
	// Requested is the device the caller asked for.
	Requested Device
	// Used is DeviceCPU or DeviceCUDA.
	Used Device
	// FallbackReason is empty unless Requested is DeviceAuto and CUDA could not be
	// used. It then contains the error from ONNX Runtime.
	FallbackReason string
}

// SessionIO describes the one input and one output of a patch network. Both tensors
// have the fixed shape [1, channels, PatchSize[0], PatchSize[1], PatchSize[2]], with the
// patch size ordered D, H, W.
type SessionIO struct {
	InputName      string
	InputChannels  int
	OutputName     string
	OutputChannels int
	PatchSize      [3]int
}

func (io SessionIO) inputShape() ort.Shape {
	return ort.NewShape(1, int64(io.InputChannels), int64(io.PatchSize[0]), int64(io.PatchSize[1]), int64(io.PatchSize[2]))
}

func (io SessionIO) outputShape() ort.Shape {
	return ort.NewShape(1, int64(io.OutputChannels), int64(io.PatchSize[0]), int64(io.PatchSize[1]), int64(io.PatchSize[2]))
}

// Session is an ONNX Runtime session for one patch network with preallocated input and
// output tensors. It implements [Predictor]. A Session is safe for use by one goroutine
// at a time, and PredictPatch serializes concurrent calls.
type Session struct {
	mu      sync.Mutex
	io      SessionIO
	session *ort.AdvancedSession
	input   *ort.Tensor[float32]
	output  *ort.Tensor[float32]
	runOpts *ort.RunOptions
	device  Device
}

// NewSession creates a session for the ONNX model in onnxData on the requested device.
// The intra-op thread count is runtime.NumCPU().
//
// With DeviceAuto, a CUDA provider that cannot be added, or a session that fails to be
// created with it, leads to a CPU session and a non-empty [DeviceInfo.FallbackReason].
// With DeviceCUDA, the same failures are returned as errors.
func NewSession(onnxData []byte, io SessionIO, device Device) (*Session, DeviceInfo, error) {
	info := DeviceInfo{Requested: device}
	if !ort.IsInitialized() {
		return nil, info, errRuntimeNotInitialized
	}
	if _, err := ParseDevice(string(device)); err != nil {
		return nil, info, err
	}
	if io.InputChannels <= 0 || io.OutputChannels <= 0 {
		return nil, info, fmt.Errorf("inference: invalid session channels: input %d, output %d, want > 0", io.InputChannels, io.OutputChannels)
	}
	for a, p := range io.PatchSize {
		if p <= 0 {
			return nil, info, fmt.Errorf("inference: invalid patch size %v: dimension %d is %d, want > 0", io.PatchSize, a, p)
		}
	}

	s := &Session{io: io}
	var err error
	if s.input, err = ort.NewEmptyTensor[float32](io.inputShape()); err != nil {
		return nil, info, fmt.Errorf("inference: allocate input tensor %v: %w", io.inputShape(), err)
	}
	if s.output, err = ort.NewEmptyTensor[float32](io.outputShape()); err != nil {
		s.Close()
		return nil, info, fmt.Errorf("inference: allocate output tensor %v: %w", io.outputShape(), err)
	}
	if s.runOpts, err = ort.NewRunOptions(); err != nil {
		s.Close()
		return nil, info, fmt.Errorf("inference: create run options: %w", err)
	}

	if device == DeviceCUDA || device == DeviceAuto {
		cudaErr := s.open(onnxData, true)
		if cudaErr == nil {
			s.device = DeviceCUDA
			info.Used = DeviceCUDA
			return s, info, nil
		}
		if device == DeviceCUDA {
			s.Close()
			return nil, info, fmt.Errorf("inference: device cuda requested, but CUDA is not available: %w; use --device auto or cpu, or give the path of a GPU build of ONNX Runtime", cudaErr)
		}
		info.FallbackReason = cudaErr.Error()
	}

	if err := s.open(onnxData, false); err != nil {
		s.Close()
		return nil, info, err
	}
	s.device = DeviceCPU
	info.Used = DeviceCPU
	return s, info, nil
}

// open creates the ORT session, with the CUDA execution provider first when useCUDA is
// set.
func (s *Session) open(onnxData []byte, useCUDA bool) error {
	options, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("inference: create session options: %w", err)
	}
	defer options.Destroy()

	if err := options.SetIntraOpNumThreads(runtime.NumCPU()); err != nil {
		return fmt.Errorf("inference: set intra-op threads to %d: %w", runtime.NumCPU(), err)
	}
	if useCUDA {
		cudaOptions, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("create CUDA provider options: %w", err)
		}
		defer cudaOptions.Destroy()
		if err := options.AppendExecutionProviderCUDA(cudaOptions); err != nil {
			if missing := missingCUDAProviderFiles(); missing != "" {
				return fmt.Errorf("add CUDA execution provider: %w (%s)", err, missing)
			}
			return fmt.Errorf("add CUDA execution provider: %w", err)
		}
	}

	session, err := ort.NewAdvancedSessionWithONNXData(onnxData,
		[]string{s.io.InputName}, []string{s.io.OutputName},
		[]ort.Value{s.input}, []ort.Value{s.output}, options)
	if err != nil {
		if useCUDA {
			return fmt.Errorf("create session with the CUDA execution provider: %w", err)
		}
		return fmt.Errorf("inference: create session (input %q %v, output %q %v): %w",
			s.io.InputName, s.io.inputShape(), s.io.OutputName, s.io.outputShape(), err)
	}
	s.session = session
	return nil
}

// cudaProviderFiles are the libraries that ONNX Runtime loads, from the folder of the
// core library, to add the CUDA execution provider.
var cudaProviderFiles = []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"}

// missingCUDAProviderFiles names the CUDA provider libraries that are absent from the
// folder of the loaded core library, or returns "" when all are there. ONNX Runtime's
// error status contains only "Failed to load shared library", without the name.
func missingCUDAProviderFiles() string {
	dir := filepath.Dir(runtimeState.libraryPath)
	var missing []string
	for _, name := range cudaProviderFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("%s not found in %s, the folder of the ONNX Runtime library", strings.Join(missing, " and "), dir)
}

// Device returns the device the session runs on: DeviceCPU or DeviceCUDA.
func (s *Session) Device() Device { return s.device }

// IO returns the input and output description the session was created with.
func (s *Session) IO() SessionIO { return s.io }

// PredictPatch runs the network on one patch laid out as [InputChannels, D, H, W] and
// returns [OutputChannels, D, H, W]. The returned slice is the session's output buffer,
// valid until the next call. When ctx is cancelled during the run, ONNX Runtime is
// asked to terminate it and ctx.Err() is returned.
func (s *Session) PredictPatch(ctx context.Context, patch []float32) ([]float32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.session == nil {
		return nil, errors.New("inference: predict on a closed session")
	}
	in := s.input.GetData()
	if len(patch) != len(in) {
		return nil, fmt.Errorf("inference: patch has %d values, want %d for shape %v", len(patch), len(in), s.io.inputShape())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	copy(in, patch)

	// A cancellation that arrives while ORT runs sets the terminate flag. When
	// stopTerminate reports that the callback already started, wait for it so that the
	// flag is cleared after it was set, not before.
	// NOTE: the tests cancel before a run starts, never during one, so ORT's response
	// to the terminate flag is untested here.
	terminated := make(chan struct{})
	stopTerminate := context.AfterFunc(ctx, func() {
		defer close(terminated)
		s.runOpts.Terminate()
	})
	runErr := s.session.RunWithOptions(s.runOpts)
	if !stopTerminate() {
		<-terminated
		if err := s.runOpts.UnsetTerminate(); err != nil {
			return nil, fmt.Errorf("inference: reset run options after cancellation: %w", err)
		}
	}

	if runErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("inference: run network on %s: %w", s.device, runErr)
	}
	return s.output.GetData(), nil
}

// Close releases the session and its tensors. It is safe to call more than once.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()

	var errs []error
	if s.session != nil {
		errs = append(errs, s.session.Destroy())
		s.session = nil
	}
	if s.runOpts != nil {
		errs = append(errs, s.runOpts.Destroy())
		s.runOpts = nil
	}
	if s.input != nil {
		errs = append(errs, s.input.Destroy())
		s.input = nil
	}
	if s.output != nil {
		errs = append(errs, s.output.Destroy())
		s.output = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("inference: close session: %w", err)
	}
	return nil
}
