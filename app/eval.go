package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"protrude/internal/atomicfile"
	"protrude/metrics"
	"protrude/volume"
	"protrude/volume/nifti"
)

const evalUsage = `Usage: protrude eval [flags] PRED_DIR GT_DIR

Scores predicted kidney and tumor masks against ground truth and prints a table.

Each case is either a label map DIR/<case>.nii.gz with 0 background, 1 kidney and
2 tumor (kidney is every label >= 1, tumor is label 2), or a folder DIR/<case>/ with
kidney.nii.gz and tumor.nii.gz, where any non-zero voxel is foreground. Both layouts
also accept .nii. "protrude segment INPUT -o PRED_DIR/<case>" writes the folder
layout. Every case in PRED_DIR needs ground truth in GT_DIR on the same grid, with
affines within 1e-3 mm.

Metrics:
  Dice           kidney and tumor Dice per case. The mean tumor Dice counts only
                 the cases whose ground truth has a tumor.
  sensitivity    the share of true tumors found. A true tumor is a 26-connected
                 component of the ground truth tumor mask. It is found when its
                 Dice with the union of the predicted components that overlap it
                 is above 0.5.
  false positives per image
                 predicted tumor components that overlap no true tumor, summed
                 and divided by the number of cases.

Flags:
`

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	jsonPath := fs.String("json", "", "also write the metrics as JSON to this `file`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	positional, rest := splitPositionals(args, map[string]bool{"-json": true, "--json": true})
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	positional = append(positional, fs.Args()...)
	if len(positional) != 2 {
		fs.Usage()
		return fmt.Errorf("%w: eval needs PRED_DIR and GT_DIR, got %d arguments: %q", errUsage, len(positional), positional)
	}
	predDir, refDir := positional[0], positional[1]

	start := time.Now()
	predCases, warnings, err := findCases(predDir)
	if err != nil {
		return err
	}
	refCases, refWarnings, err := findCases(refDir)
	if err != nil {
		return err
	}
	warnings = append(warnings, refWarnings...)
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	names := make([]string, 0, len(predCases))
	var missing []string
	for name := range predCases {
		names = append(names, name)
		if _, ok := refCases[name]; !ok {
			missing = append(missing, name)
		}
	}
	slices.Sort(names)
	slices.Sort(missing)
	if len(names) == 0 {
		return fmt.Errorf("eval: no cases in %s: want <case>.nii.gz label maps or <case>/ folders with kidney.nii.gz and tumor.nii.gz", predDir)
	}
	if len(missing) > 0 {
		return fmt.Errorf("eval: %d of %d predicted cases have no ground truth in %s: %s", len(missing), len(names), refDir, strings.Join(missing, ", "))
	}
	slog.Info("eval started", "cases", len(names))

	results := make([]metrics.CaseResult, 0, len(names))
	for _, name := range names {
		r, err := evaluateCaseFiles(name, predCases[name], refCases[name])
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	summary := metrics.Summarize(results)
	slog.Info("eval finished", "cases", len(names), "duration", time.Since(start).Round(time.Millisecond))

	printEvalTable(os.Stdout, results, summary)
	if *jsonPath != "" {
		report := newEvalReport(predDir, refDir, results, summary)
		data, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return fmt.Errorf("eval: encode JSON: %w", err)
		}
		if err := atomicfile.Write(*jsonPath, append(data, '\n')); err != nil {
			return fmt.Errorf("write %s: %w", *jsonPath, err)
		}
		fmt.Printf("wrote %s\n", *jsonPath)
	}
	return nil
}

// splitPositionals separates the arguments that are not flags or flag values, so that
// flags may come before, between or after them. valueFlags lists the flags that take
// a separate value.
func splitPositionals(args []string, valueFlags map[string]bool) (positional, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(positional, args[i+1:]...), rest
		case valueFlags[a] && i+1 < len(args):
			rest = append(rest, a, args[i+1])
			i++
		case len(a) > 1 && a[0] == '-':
			rest = append(rest, a)
		default:
			positional = append(positional, a)
		}
	}
	return positional, rest
}

// caseFiles are the mask files of one case: a label map, or a kidney and a tumor mask.
type caseFiles struct {
	LabelMap      string
	Kidney, Tumor string
}

// niftiSuffixes are the file name endings of NIfTI files, longest first.
var niftiSuffixes = []string{".nii.gz", ".nii"}

// findCases lists the cases in dir: every NIfTI file is a label map named after its
// case, and every folder with kidney and tumor masks is a case. Folders with neither
// mask are skipped with a warning, and other files and hidden entries are ignored.
func findCases(dir string) (map[string]caseFiles, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: read case folder: %w", err)
	}
	cases := map[string]caseFiles{}
	var warnings []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path) // follows symbolic links
		if err != nil {
			return nil, nil, fmt.Errorf("eval: %w", err)
		}

		var c caseFiles
		var caseName string
		switch {
		case info.IsDir():
			c.Kidney, err = findNIfTI(path, "kidney")
			if err != nil {
				return nil, nil, err
			}
			c.Tumor, err = findNIfTI(path, "tumor")
			if err != nil {
				return nil, nil, err
			}
			if c.Kidney == "" && c.Tumor == "" {
				warnings = append(warnings, fmt.Sprintf("skipped folder %s: it has no kidney.nii.gz or tumor.nii.gz", path))
				continue
			}
			if c.Kidney == "" || c.Tumor == "" {
				return nil, nil, fmt.Errorf("eval: case folder %s has only one of kidney.nii.gz and tumor.nii.gz, want both", path)
			}
			caseName = name
		case info.Mode().IsRegular():
			caseName = trimNIfTISuffix(name)
			if caseName == name {
				continue
			}
			c.LabelMap = path
		default:
			continue
		}
		if previous, ok := cases[caseName]; ok {
			return nil, nil, fmt.Errorf("eval: case %s appears twice in %s (%s and %s): keep one", caseName, dir, previous.describe(), c.describe())
		}
		cases[caseName] = c
	}
	return cases, warnings, nil
}

// findNIfTI returns the path of base.nii.gz or base.nii in dir, or "" when neither
// exists. It returns an error when both do.
func findNIfTI(dir, base string) (string, error) {
	var found []string
	for _, suffix := range niftiSuffixes {
		p := filepath.Join(dir, base+suffix)
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("eval: %w", err)
		}
	}
	if len(found) > 1 {
		return "", fmt.Errorf("eval: both %s and %s exist: keep one", found[0], found[1])
	}
	if len(found) == 0 {
		return "", nil
	}
	return found[0], nil
}

// trimNIfTISuffix returns name without its NIfTI suffix, or name unchanged when it has
// none. The match ignores case.
func trimNIfTISuffix(name string) string {
	lower := strings.ToLower(name)
	for _, suffix := range niftiSuffixes {
		if strings.HasSuffix(lower, suffix) && len(name) > len(suffix) {
			return name[:len(name)-len(suffix)]
		}
	}
	return name
}

func (c caseFiles) describe() string {
	if c.LabelMap != "" {
		return c.LabelMap
	}
	return filepath.Dir(c.Kidney)
}

// loadedMask is a mask with the file it came from, for error messages.
type loadedMask struct {
	mask *volume.Mask
	path string
}

// loadCase reads the kidney and tumor masks of a case. From a label map, kidney is
// every label >= 1 and tumor is label 2.
func loadCase(c caseFiles) (kidney, tumor loadedMask, err error) {
	if c.LabelMap != "" {
		labels, _, err := nifti.ReadMask(c.LabelMap)
		if err != nil {
			return kidney, tumor, err
		}
		kidney = loadedMask{volume.NewMask(labels.Grid), c.LabelMap}
		tumor = loadedMask{volume.NewMask(labels.Grid), c.LabelMap}
		for n, l := range labels.Labels {
			if l >= 1 {
				kidney.mask.Labels[n] = 1
			}
			if l == 2 {
				tumor.mask.Labels[n] = 1
			}
		}
		return kidney, tumor, nil
	}

	kidney.path, tumor.path = c.Kidney, c.Tumor
	if kidney.mask, _, err = nifti.ReadMask(c.Kidney); err != nil {
		return kidney, tumor, err
	}
	if tumor.mask, _, err = nifti.ReadMask(c.Tumor); err != nil {
		return kidney, tumor, err
	}
	return kidney, tumor, nil
}

// evaluateCaseFiles reads one case from both sides, checks that every mask is on the
// ground truth kidney's grid and computes its metrics.
func evaluateCaseFiles(name string, pred, ref caseFiles) (metrics.CaseResult, error) {
	predKidney, predTumor, err := loadCase(pred)
	if err != nil {
		return metrics.CaseResult{}, fmt.Errorf("eval: case %s: %w", name, err)
	}
	refKidney, refTumor, err := loadCase(ref)
	if err != nil {
		return metrics.CaseResult{}, fmt.Errorf("eval: case %s: %w", name, err)
	}
	for _, m := range []loadedMask{refTumor, predKidney, predTumor} {
		if err := metrics.CheckSameGrid(refKidney.mask.Grid, m.mask.Grid); err != nil {
			return metrics.CaseResult{}, fmt.Errorf("eval: case %s: %s and %s are not on the same grid (every mask of a case must be on the ground truth kidney's grid): %w",
				name, refKidney.path, m.path, err)
		}
	}
	return metrics.EvaluateCase(name,
		metrics.CaseMasks{Kidney: predKidney.mask, Tumor: predTumor.mask},
		metrics.CaseMasks{Kidney: refKidney.mask, Tumor: refTumor.mask})
}

// printEvalTable writes one row per case and the summary lines.
func printEvalTable(w io.Writer, results []metrics.CaseResult, s metrics.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tkidney Dice\ttumor Dice\ttumors found\tfalse positives\t")
	for _, r := range results {
		tumorDice := "-"
		if r.HasTumor {
			tumorDice = fmt.Sprintf("%.3f", r.TumorDice)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%d/%d\t%d\t\n", r.Case, r.KidneyDice, tumorDice, r.FoundTumors(), len(r.Tumors), r.FalsePositives)
	}
	tw.Flush()

	fmt.Fprintf(w, "cases: %d\n", s.Cases)
	fmt.Fprintf(w, "mean kidney Dice: %s\n", formatMetric(s.KidneyDiceMean, "%.3f"))
	fmt.Fprintf(w, "mean tumor Dice: %s (cases with a tumor: %d)\n", formatMetric(s.TumorDiceMean, "%.3f"), s.TumorCases)
	fmt.Fprintf(w, "per-tumor sensitivity: %s (true tumors found at Dice > %g: %d of %d)\n",
		formatMetric(s.PerTumorSensitivity, "%.3f"), metrics.FoundDiceThreshold, s.FoundTumors, s.ReferenceTumors)
	fmt.Fprintf(w, "false positives per image: %s (false positives: %d, cases: %d)\n", formatMetric(s.FalsePositivesPerImage, "%.2f"), s.FalsePositives, s.Cases)
}

// formatMetric formats v, or returns "n/a" for NaN, a mean over no values.
func formatMetric(v float64, format string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// evalReport is the JSON document that eval --json writes. Means over no values are
// null.
type evalReport struct {
	PredictionDir      string          `json:"prediction_dir"`
	GroundTruthDir     string          `json:"ground_truth_dir"`
	Connectivity       int             `json:"connectivity"`
	FoundDiceThreshold float64         `json:"found_dice_threshold"`
	Summary            evalSummaryJSON `json:"summary"`
	Cases              []evalCaseJSON  `json:"cases"`
}

type evalSummaryJSON struct {
	Cases                  int      `json:"cases"`
	KidneyDiceMean         *float64 `json:"kidney_dice_mean"`
	TumorCases             int      `json:"tumor_cases"`
	TumorDiceMean          *float64 `json:"tumor_dice_mean"`
	TrueTumors             int      `json:"true_tumors"`
	FoundTumors            int      `json:"found_tumors"`
	PerTumorSensitivity    *float64 `json:"per_tumor_sensitivity"`
	FalsePositives         int      `json:"false_positives"`
	FalsePositivesPerImage *float64 `json:"false_positives_per_image"`
}

type evalCaseJSON struct {
	Case       string  `json:"case"`
	KidneyDice float64 `json:"kidney_dice"`
	// TumorDice is null when the ground truth has no tumor, because such cases do not
	// enter the mean.
	TumorDice       *float64        `json:"tumor_dice"`
	TrueTumors      []evalTumorJSON `json:"true_tumors"`
	PredictedTumors int             `json:"predicted_tumors"`
	FalsePositives  int             `json:"false_positives"`
}

type evalTumorJSON struct {
	VoxelCount          int     `json:"voxel_count"`
	VolumeML            float64 `json:"volume_ml"`
	BoundingBoxMin      [3]int  `json:"bounding_box_min_ijk"`
	BoundingBoxMax      [3]int  `json:"bounding_box_max_ijk_exclusive"`
	PredictedComponents int     `json:"predicted_components"`
	Dice                float64 `json:"dice"`
	Found               bool    `json:"found"`
}

func newEvalReport(predDir, refDir string, results []metrics.CaseResult, s metrics.Summary) evalReport {
	report := evalReport{
		PredictionDir:      predDir,
		GroundTruthDir:     refDir,
		Connectivity:       26,
		FoundDiceThreshold: metrics.FoundDiceThreshold,
		Summary: evalSummaryJSON{
			Cases:                  s.Cases,
			KidneyDiceMean:         optional(s.KidneyDiceMean),
			TumorCases:             s.TumorCases,
			TumorDiceMean:          optional(s.TumorDiceMean),
			TrueTumors:             s.ReferenceTumors,
			FoundTumors:            s.FoundTumors,
			PerTumorSensitivity:    optional(s.PerTumorSensitivity),
			FalsePositives:         s.FalsePositives,
			FalsePositivesPerImage: optional(s.FalsePositivesPerImage),
		},
		Cases: []evalCaseJSON{},
	}
	for _, r := range results {
		c := evalCaseJSON{
			Case:            r.Case,
			KidneyDice:      r.KidneyDice,
			TrueTumors:      []evalTumorJSON{},
			PredictedTumors: r.PredictedTumors,
			FalsePositives:  r.FalsePositives,
		}
		if r.HasTumor {
			c.TumorDice = optional(r.TumorDice)
		}
		for _, t := range r.Tumors {
			c.TrueTumors = append(c.TrueTumors, evalTumorJSON{
				VoxelCount:          t.VoxelCount,
				VolumeML:            t.VolumeML,
				BoundingBoxMin:      t.BoundingBox.Min,
				BoundingBoxMax:      t.BoundingBox.Max,
				PredictedComponents: t.PredictedComponents,
				Dice:                t.Dice,
				Found:               t.Found,
			})
		}
		report.Cases = append(report.Cases, c)
	}
	return report
}

// optional returns a pointer to v, or nil for NaN, which JSON cannot encode.
func optional(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
