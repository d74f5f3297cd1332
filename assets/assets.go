// Package assets embeds the default model bundle and the demo case, so that the
// binary runs with no other files than the ONNX Runtime library.
//
// The models in models/ are demo weights trained on synthetic phantoms whose kidney
// and tumor shapes come from KiTS19 masks. They are not trained on CT and are not for
// clinical use. models/manifest.json records how they were made.
package assets

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
)

//go:embed models/manifest.json models/base.onnx models/protuberance.onnx models/fusion.onnx
var models embed.FS

//go:embed demo/phantom_demo.nii.gz
var demoCase []byte

// Models returns the embedded model bundle, with manifest.json at its root.
func Models() fs.FS {
	sub, err := fs.Sub(models, "models")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder exists
	}
	return sub
}

// DemoCaseFile writes the embedded demo phantom (NIfTI, gzip) to a temporary file and
// returns its path and a function that removes it.
func DemoCaseFile() (path string, cleanup func(), err error) {
	f, err := os.CreateTemp("", "protrude-demo-*.nii.gz")
	if err != nil {
		return "", nil, fmt.Errorf("assets: write demo case: %w", err)
	}
	cleanup = func() { os.Remove(f.Name()) }
	if _, err := f.Write(demoCase); err != nil {
		f.Close()
		cleanup()
		return "", nil, fmt.Errorf("assets: write demo case %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("assets: write demo case %s: %w", f.Name(), err)
	}
	return f.Name(), cleanup, nil
}

// AboutText returns the data licence and citation shown in the About box.
func AboutText() string {
	return "The shipped model weights are demo weights trained on synthetic phantoms. " +
		"The kidney and tumor shapes in those phantoms come from the KiTS19 challenge masks, " +
		"licensed CC BY-NC-SA 4.0:\n" +
		"Heller et al., \"The state of the art in kidney and kidney tumor segmentation in " +
		"contrast-enhanced CT imaging: Results of the KiTS19 challenge\", " +
		"Medical Image Analysis 67 (2021)."
}
