package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"

	ort "github.com/yalue/onnxruntime_go"
)

// ManifestFile is the name of the manifest inside a model bundle.
const ManifestFile = "manifest.json"

// SupportedFormatVersion is the only manifest format_version this package reads.
const SupportedFormatVersion = 1

// Values of the manifest's preprocessing and inference fields that this package
// implements. A bundle that requests anything else is rejected as unsupported.
const (
	NormalizationWindowToMinus1Plus1 = "window_to_minus1_plus1"
	TensorLayoutNCDHW                = "NCDHW"
	AxisDirectionsLPS                = "D=+S, H=+P, W=+L (LPS)"
	BlendGaussian                    = "gaussian"
)

// PatchMultiple is the number that every patch dimension must be a multiple of,
// because the networks halve the resolution five times.
const PatchMultiple = 32

// Manifest mirrors manifest.json of a model bundle, as the training code writes it.
type Manifest struct {
	FormatVersion int               `json:"format_version"`
	BundleID      string            `json:"bundle_id"`
	Description   string            `json:"description"`
	Models        ManifestModels    `json:"models"`
	Preprocessing Preprocessing     `json:"preprocessing"`
	Inference     InferenceSettings `json:"inference"`
	Provenance    Provenance        `json:"provenance"`
}

// ManifestModels lists the three networks of the chain.
type ManifestModels struct {
	Base         ModelSpec `json:"base"`
	Protuberance ModelSpec `json:"protuberance"`
	Fusion       ModelSpec `json:"fusion"`
}

// ModelSpec describes one network of the bundle.
type ModelSpec struct {
	// File is the path of the .onnx file inside the bundle.
	File    string       `json:"file"`
	Inputs  []TensorSpec `json:"inputs"`
	Outputs []TensorSpec `json:"outputs"`
	// BaseChannels and ChannelCap record the architecture the network was trained with.
	// Inference does not use them.
	BaseChannels int `json:"base_channels"`
	ChannelCap   int `json:"channel_cap"`
}

// TensorSpec names one input or output tensor of a network and its channel count.
type TensorSpec struct {
	Name         string   `json:"name"`
	Channels     int      `json:"channels"`
	ChannelNames []string `json:"channel_names,omitempty"`
}

// Preprocessing contains the settings that turn CT into the network input.
type Preprocessing struct {
	// SpacingMM is the voxel spacing of the canonical grid along x, y and z.
	SpacingMM []float64 `json:"spacing_mm"`
	// HUWindow is [lower, upper] in Hounsfield units.
	HUWindow       []float64 `json:"hu_window"`
	Normalization  string    `json:"normalization"`
	TensorLayout   string    `json:"tensor_layout"`
	AxisDirections string    `json:"axis_directions"`
}

// InferenceSettings configures the sliding window and the thresholds.
type InferenceSettings struct {
	// PatchSize is the fixed network input size, ordered D, H, W.
	PatchSize    []int      `json:"patch_size"`
	Overlap      float64    `json:"overlap"`
	Blend        string     `json:"blend"`
	CropMarginMM float64    `json:"crop_margin_mm"`
	Thresholds   Thresholds `json:"thresholds"`
	// Postprocessing removes implausible tumor components after thresholding. It is
	// optional: a bundle without it keeps every component.
	Postprocessing Postprocessing `json:"postprocessing,omitzero"`
}

// Postprocessing lists the rules that [FilterTumorComponents] applies to the tumor
// masks, chosen on validation data by the training code. The zero value removes
// nothing.
type Postprocessing struct {
	// MinTumorComponentML removes 26-connected tumor components smaller than this
	// volume, in millilitres on the grid of the mask.
	MinTumorComponentML float64 `json:"min_tumor_component_ml"`
	// TumorMustTouchKidney removes tumor components with no voxel in or next to the
	// kidney mask. A kidney tumor grows from the kidney, and the base network's kidney
	// output covers the tumor as well.
	TumorMustTouchKidney bool `json:"tumor_must_touch_kidney"`
}

// Thresholds are the probabilities at or above which a voxel is labelled.
type Thresholds struct {
	Kidney     float64 `json:"kidney"`
	Protrusion float64 `json:"protrusion"`
	Tumor      float64 `json:"tumor"`
}

// Provenance records where the networks came from.
type Provenance struct {
	Data      string `json:"data"`
	Preset    string `json:"preset"`
	Seed      int64  `json:"seed"`
	Date      string `json:"date"`
	GitCommit string `json:"git_commit"`
	License   string `json:"license"`
	Citation  string `json:"citation"`
	// Splits names the file that lists the training, validation and test cases.
	Splits string `json:"splits,omitempty"`
}

// SpacingMMIsotropic returns the canonical grid spacing. [LoadBundle] has checked that
// all three entries of SpacingMM are equal.
func (p Preprocessing) SpacingMMIsotropic() float64 { return p.SpacingMM[0] }

// PatchSize3 returns the patch size as an array ordered D, H, W.
func (s InferenceSettings) PatchSize3() [3]int {
	return [3]int{s.PatchSize[0], s.PatchSize[1], s.PatchSize[2]}
}

// Model roles, as named in the manifest's "models" object.
const (
	ModelBase         = "base"
	ModelProtuberance = "protuberance"
	ModelFusion       = "fusion"
)

// BundleModel is one network of a loaded bundle.
type BundleModel struct {
	Spec ModelSpec
	// ONNX is the content of the .onnx file.
	ONNX []byte
}

// Bundle is a validated model bundle held in memory.
type Bundle struct {
	// Name is the folder or fs.FS path the bundle was loaded from.
	Name         string
	Manifest     Manifest
	Base         BundleModel
	Protuberance BundleModel
	Fusion       BundleModel
}

// BundleError is one way in which a bundle breaks the contract.
type BundleError struct {
	// Bundle is the folder or path the bundle was loaded from.
	Bundle string
	// Model is "base", "protuberance" or "fusion", or empty for a bundle-wide field.
	Model string
	// Field is the manifest field in JSON path notation, such as
	// "models.base.inputs[0].channels", or "onnx inputs[0].shape" for a property of
	// the .onnx file.
	Field    string
	Expected string
	Actual   string
	// Unsupported is set when the value is well formed but this version of Protrude
	// does not implement it, such as another format_version.
	Unsupported bool
}

func (e *BundleError) Error() string {
	kind := "invalid"
	if e.Unsupported {
		kind = "unsupported"
	}
	where := ""
	if e.Model != "" {
		where = fmt.Sprintf(" model %q:", e.Model)
	}
	return fmt.Sprintf("inference: bundle %q:%s %s %s: expected %s, got %s", e.Bundle, where, kind, e.Field, e.Expected, e.Actual)
}

// LoadBundleDir loads and validates the bundle in the folder dir.
func LoadBundleDir(dir string) (*Bundle, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("inference: open bundle folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("inference: open bundle: %q is not a folder; give the folder that contains %s", dir, ManifestFile)
	}
	return loadBundle(os.DirFS(dir), ".", dir)
}

// LoadBundle loads and validates the bundle in folder name of fsys, such as a folder
// embedded with go:embed. Use "." for the root of fsys.
//
// Validation needs ONNX Runtime, because it reads the input and output names and
// shapes of each .onnx file, so [InitRuntime] must have succeeded. Every violation of
// the contract is reported as a [BundleError], joined with errors.Join. Unknown
// manifest fields are rejected too, so that a misspelled key does not silently fall
// back to zero.
func LoadBundle(fsys fs.FS, name string) (*Bundle, error) {
	return loadBundle(fsys, name, name)
}

func loadBundle(fsys fs.FS, dir, displayName string) (*Bundle, error) {
	if !ort.IsInitialized() {
		return nil, errRuntimeNotInitialized
	}

	raw, err := fs.ReadFile(fsys, path.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("inference: bundle %q: read %s: %w", displayName, ManifestFile, err)
	}
	var m Manifest
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&m); err != nil {
		return nil, fmt.Errorf("inference: bundle %q: malformed %s: %w", displayName, ManifestFile, err)
	}

	b := &Bundle{Name: displayName, Manifest: m}
	v := &bundleValidator{bundle: displayName}
	v.checkManifest(&m)
	manifestValid := len(v.errs) == 0

	// Every model file is read even when the manifest has errors, so one load reports
	// as much as possible. The .onnx contents are compared only with a valid manifest.
	for _, role := range []struct {
		name  string
		spec  ModelSpec
		model *BundleModel
	}{
		{ModelBase, m.Models.Base, &b.Base},
		{ModelProtuberance, m.Models.Protuberance, &b.Protuberance},
		{ModelFusion, m.Models.Fusion, &b.Fusion},
	} {
		role.model.Spec = role.spec
		role.model.ONNX = v.readModel(fsys, dir, role.name, role.spec)
		if role.model.ONNX != nil && manifestValid {
			v.checkONNX(role.name, role.spec, role.model.ONNX, m.Inference.PatchSize)
		}
	}

	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return b, nil
}

// expectedModel is the contract for one network: channel counts and, for outputs, the
// channel names in order.
type expectedModel struct {
	inputChannels  int
	outputChannels int
	outputNames    []string
}

var expectedModels = map[string]expectedModel{
	ModelBase:         {inputChannels: 1, outputChannels: 2, outputNames: []string{"kidney", "tumor"}},
	ModelProtuberance: {inputChannels: 1, outputChannels: 1, outputNames: []string{"protrusion"}},
	ModelFusion:       {inputChannels: 2, outputChannels: 1, outputNames: []string{"tumor"}},
}

// bundleValidator collects contract violations.
type bundleValidator struct {
	bundle string
	errs   []error
}

func (v *bundleValidator) fail(model, field, expected, actual string) {
	v.errs = append(v.errs, &BundleError{Bundle: v.bundle, Model: model, Field: field, Expected: expected, Actual: actual})
}

func (v *bundleValidator) unsupported(model, field, expected, actual string) {
	v.errs = append(v.errs, &BundleError{Bundle: v.bundle, Model: model, Field: field, Expected: expected, Actual: actual, Unsupported: true})
}

func (v *bundleValidator) checkManifest(m *Manifest) {
	if m.FormatVersion != SupportedFormatVersion {
		v.unsupported("", "format_version", fmt.Sprint(SupportedFormatVersion), fmt.Sprint(m.FormatVersion))
	}

	for _, role := range []struct {
		name string
		spec ModelSpec
	}{
		{ModelBase, m.Models.Base},
		{ModelProtuberance, m.Models.Protuberance},
		{ModelFusion, m.Models.Fusion},
	} {
		v.checkModelSpec(role.name, role.spec)
	}

	p := m.Preprocessing
	if len(p.SpacingMM) != 3 {
		v.fail("", "preprocessing.spacing_mm", "3 values", fmt.Sprint(p.SpacingMM))
	} else {
		for a, s := range p.SpacingMM {
			if !(s > 0) || math.IsInf(s, 0) {
				v.fail("", fmt.Sprintf("preprocessing.spacing_mm[%d]", a), "a finite spacing > 0 mm", fmt.Sprint(s))
			}
		}
		if p.SpacingMM[0] != p.SpacingMM[1] || p.SpacingMM[0] != p.SpacingMM[2] {
			v.unsupported("", "preprocessing.spacing_mm", "isotropic spacing (three equal values)", fmt.Sprint(p.SpacingMM))
		}
	}
	if len(p.HUWindow) != 2 {
		v.fail("", "preprocessing.hu_window", "2 values [lower, upper]", fmt.Sprint(p.HUWindow))
	} else if lo, hi := p.HUWindow[0], p.HUWindow[1]; !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		v.fail("", "preprocessing.hu_window", "finite [lower, upper] with lower < upper", fmt.Sprint(p.HUWindow))
	}
	if p.Normalization != NormalizationWindowToMinus1Plus1 {
		v.unsupported("", "preprocessing.normalization", fmt.Sprintf("%q", NormalizationWindowToMinus1Plus1), fmt.Sprintf("%q", p.Normalization))
	}
	if p.TensorLayout != TensorLayoutNCDHW {
		v.unsupported("", "preprocessing.tensor_layout", fmt.Sprintf("%q", TensorLayoutNCDHW), fmt.Sprintf("%q", p.TensorLayout))
	}
	if p.AxisDirections != AxisDirectionsLPS {
		v.unsupported("", "preprocessing.axis_directions", fmt.Sprintf("%q", AxisDirectionsLPS), fmt.Sprintf("%q", p.AxisDirections))
	}

	s := m.Inference
	if len(s.PatchSize) != 3 {
		v.fail("", "inference.patch_size", "3 values ordered D, H, W", fmt.Sprint(s.PatchSize))
	} else {
		for a, p := range s.PatchSize {
			if p <= 0 || p%PatchMultiple != 0 {
				v.fail("", fmt.Sprintf("inference.patch_size[%d]", a), fmt.Sprintf("a positive multiple of %d", PatchMultiple), fmt.Sprint(p))
			}
		}
	}
	if !(s.Overlap >= 0 && s.Overlap < 1) {
		v.fail("", "inference.overlap", "a fraction in [0, 1)", fmt.Sprint(s.Overlap))
	}
	if s.Blend != BlendGaussian {
		v.unsupported("", "inference.blend", fmt.Sprintf("%q", BlendGaussian), fmt.Sprintf("%q", s.Blend))
	}
	if !(s.CropMarginMM >= 0) || math.IsInf(s.CropMarginMM, 0) {
		v.fail("", "inference.crop_margin_mm", "a finite margin >= 0 mm", fmt.Sprint(s.CropMarginMM))
	}
	if pp := s.Postprocessing.MinTumorComponentML; !(pp >= 0) || math.IsInf(pp, 0) {
		v.fail("", "inference.postprocessing.min_tumor_component_ml", "a finite volume >= 0 mL", fmt.Sprint(pp))
	}
	for _, t := range []struct {
		name  string
		value float64
	}{
		{"kidney", s.Thresholds.Kidney},
		{"protrusion", s.Thresholds.Protrusion},
		{"tumor", s.Thresholds.Tumor},
	} {
		if !(t.value > 0 && t.value < 1) {
			v.fail("", "inference.thresholds."+t.name, "a probability in (0, 1)", fmt.Sprint(t.value))
		}
	}
}

func (v *bundleValidator) checkModelSpec(role string, spec ModelSpec) {
	want := expectedModels[role]
	prefix := "models." + role

	if spec.File == "" {
		v.fail(role, prefix+".file", "the name of an .onnx file in the bundle", `""`)
	}
	if len(spec.Inputs) != 1 {
		v.fail(role, prefix+".inputs", "1 input", fmt.Sprintf("%d inputs", len(spec.Inputs)))
	} else {
		in := spec.Inputs[0]
		if in.Name == "" {
			v.fail(role, prefix+".inputs[0].name", "a tensor name", `""`)
		}
		if in.Channels != want.inputChannels {
			v.fail(role, prefix+".inputs[0].channels", fmt.Sprint(want.inputChannels), fmt.Sprint(in.Channels))
		}
	}
	if len(spec.Outputs) != 1 {
		v.fail(role, prefix+".outputs", "1 output", fmt.Sprintf("%d outputs", len(spec.Outputs)))
	} else {
		out := spec.Outputs[0]
		if out.Name == "" {
			v.fail(role, prefix+".outputs[0].name", "a tensor name", `""`)
		}
		if out.Channels != want.outputChannels {
			v.fail(role, prefix+".outputs[0].channels", fmt.Sprint(want.outputChannels), fmt.Sprint(out.Channels))
		}
		if !slices.Equal(out.ChannelNames, want.outputNames) {
			v.fail(role, prefix+".outputs[0].channel_names", fmt.Sprintf("%q", want.outputNames), fmt.Sprintf("%q", out.ChannelNames))
		}
	}
}

// readModel returns the content of the model file, or nil after recording why it
// cannot be read.
func (v *bundleValidator) readModel(fsys fs.FS, dir, role string, spec ModelSpec) []byte {
	if spec.File == "" {
		return nil
	}
	name := path.Join(dir, spec.File)
	if !fs.ValidPath(name) {
		v.fail(role, "models."+role+".file", "a relative path inside the bundle", fmt.Sprintf("%q", spec.File))
		return nil
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		actual := fmt.Sprintf("%q cannot be read (%v)", spec.File, err)
		if errors.Is(err, fs.ErrNotExist) {
			actual = fmt.Sprintf("%q is missing", spec.File)
		}
		v.fail(role, "models."+role+".file", "an existing .onnx file", actual)
		return nil
	}
	return data
}

// checkONNX compares the inputs and outputs stored in the .onnx file with the manifest.
// It runs only on a manifest without errors, so the specs have one input and one
// output and the patch size has three dimensions.
func (v *bundleValidator) checkONNX(role string, spec ModelSpec, data []byte, patch []int) {
	inputs, outputs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		v.fail(role, "onnx", "a model that ONNX Runtime can load", fmt.Sprintf("%q fails to load (%v)", spec.File, err))
		return
	}
	v.checkONNXTensors(role, "inputs", spec.Inputs, inputs, patch)
	v.checkONNXTensors(role, "outputs", spec.Outputs, outputs, patch)
}

func (v *bundleValidator) checkONNXTensors(role, kind string, specs []TensorSpec, infos []ort.InputOutputInfo, patch []int) {
	if len(infos) != len(specs) {
		names := make([]string, len(infos))
		for i, info := range infos {
			names[i] = info.Name
		}
		v.fail(role, "onnx "+kind, fmt.Sprintf("%d tensor(s) as in the manifest", len(specs)), fmt.Sprintf("%d: %q", len(infos), names))
		return
	}
	for i, spec := range specs {
		info := infos[i]
		field := fmt.Sprintf("onnx %s[%d]", kind, i)
		if info.Name != spec.Name {
			v.fail(role, field+".name", fmt.Sprintf("%q (from the manifest)", spec.Name), fmt.Sprintf("%q", info.Name))
		}
		if info.OrtValueType != ort.ONNXTypeTensor || info.DataType != ort.TensorElementDataTypeFloat {
			v.fail(role, field+".type", "a float32 tensor", fmt.Sprintf("%v of %v", info.OrtValueType, info.DataType))
		}
		want := ort.NewShape(1, int64(spec.Channels), int64(patch[0]), int64(patch[1]), int64(patch[2]))
		if !info.Dimensions.Equals(want) {
			v.fail(role, field+".shape", fmt.Sprintf("%v, that is [1, channels, patch_size] with fixed dims", want), info.Dimensions.String())
		}
	}
}
