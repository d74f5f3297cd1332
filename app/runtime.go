package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"protrude/assets"
	"protrude/inference"
)

// ortLibEnv names the environment variable that holds the ONNX Runtime library path.
const ortLibEnv = "PROTRUDE_ORT_LIB"

// modelFlags are the flags shared by every command that runs the networks.
type modelFlags struct {
	modelsDir string
	device    string
	ortLib    string
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.modelsDir, "models", "", "model bundle `folder` (default: the embedded demo bundle)")
	fs.StringVar(&m.device, "device", "auto", "where the networks run: auto, cpu or cuda")
	fs.StringVar(&m.ortLib, "ort-lib", "", "`path` of libonnxruntime.so (default: $"+ortLibEnv+", then lib/ next to the binary, then third_party/ of the source tree)")
}

// findORTLibrary returns the ONNX Runtime library to load: the flag, then the
// environment variable, then the places the Makefile and the dist archive put it.
func findORTLibrary(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if env := os.Getenv(ortLibEnv); env != "" {
		return env, nil
	}
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		candidates = append(candidates,
			filepath.Join(dir, "lib", "libonnxruntime.so.1"),
			filepath.Join(dir, "..", "third_party", "onnxruntime-1.24.1", "libonnxruntime.so.1"))
	}
	candidates = append(candidates, filepath.Join("third_party", "onnxruntime-1.24.1", "libonnxruntime.so.1"))
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("ONNX Runtime library not found: set --ort-lib or $%s to the path of libonnxruntime.so.1, or run `make ort` in the source tree (looked in %v)", ortLibEnv, candidates)
}

// loadBundle returns the bundle from --models, or the embedded one.
func loadBundle(dir string) (*inference.Bundle, error) {
	if dir != "" {
		return inference.LoadBundleDir(dir)
	}
	return inference.LoadBundle(assets.Models(), ".")
}

// openPipeline initializes ONNX Runtime and builds the three-stage pipeline.
func openPipeline(m modelFlags) (*inference.Pipeline, error) {
	device, err := inference.ParseDevice(m.device)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	lib, err := findORTLibrary(m.ortLib)
	if err != nil {
		return nil, err
	}
	if err := inference.InitRuntime(lib); err != nil {
		return nil, err
	}
	bundle, err := loadBundle(m.modelsDir)
	if err != nil {
		return nil, err
	}
	p, err := inference.NewPipeline(bundle, device)
	if err != nil {
		return nil, err
	}
	info := p.Device()
	slog.Info("models loaded", "bundle", bundle.Manifest.BundleID, "device", info.Used, "onnxruntime", inference.RuntimeVersion())
	if info.FallbackReason != "" {
		// With the CPU build of ONNX Runtime that the Makefile fetches, this is the
		// expected case, not a failure, so it is logged at info level.
		slog.Info("no usable CUDA, so the networks run on the CPU", "reason", info.FallbackReason)
	}
	return p, nil
}
