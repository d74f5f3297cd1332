// Command protrude finds kidney tumors, including isodense ones, on non-contrast CT.
//
// With no arguments it opens the desktop viewer on the embedded demo case. The
// subcommands run the same pipeline without a display:
//
//	protrude                      open the viewer (needs a display)
//	protrude view [INPUT]         open the viewer on a NIfTI file or DICOM folder
//	protrude segment INPUT -o DIR write kidney, protrusion and tumor masks and a montage
//	protrude eval PRED_DIR GT_DIR [--json OUT.json]
//	                              score kidney and tumor masks against ground truth
//	protrude protrusion MASK -o OUT.nii.gz
//	                              run the protuberance net alone on a binary organ mask
//	protrude series DIR           list the DICOM image stacks in a folder
//	protrude convert INPUT OUT.nii[.gz] [--series KEY]
//	                              write the volume Protrude reads as NIfTI
//	protrude check-bundle --models DIR
//	                              load a model bundle and run one patch through each net
//	protrude version              print the version and the model bundle id
//
// Research use only, not for clinical use.
package main

import (
	// Before Fyne reads the locale; see the package comment.
	_ "protrude/internal/clocale"

	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
)

// researchNotice is shown in the window and written into every output file.
const researchNotice = "Research use only, not for clinical use"

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// errUsage marks errors caused by wrong command-line use; main exits with status 2.
var errUsage = errors.New("usage error")

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "protrude:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// parseFlags parses args into fs and marks parse errors as usage errors, so that main
// exits with status 2. A request for help is returned unchanged.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func run(args []string) error {
	if len(args) == 0 {
		return runViewer(nil)
	}
	switch args[0] {
	case "view":
		return runViewer(args[1:])
	case "segment":
		return runSegment(args[1:])
	case "eval":
		return runEval(args[1:])
	case "protrusion":
		return runProtrusion(args[1:])
	case "series":
		return runSeries(args[1:])
	case "convert":
		return runConvert(args[1:])
	case "check-bundle":
		return runCheckBundle(args[1:])
	case "version", "--version":
		return runVersion()
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n\n%s", errUsage, args[0], usage)
}

const usage = `Protrude finds kidney tumors on non-contrast CT. ` + researchNotice + `.

Usage:
  protrude                        open the viewer on the demo case (needs a display)
  protrude view [flags] [INPUT]   open the viewer on a NIfTI file or DICOM folder
  protrude segment [flags] INPUT -o OUTDIR
                                  write kidney.nii.gz, protrusion.nii.gz, tumor.nii.gz,
                                  base_tumor.nii.gz, labels.nii.gz and montage.png on
                                  the input's grid;
                                  --format seg or both writes segmentation.dcm (DICOM SEG)
  protrude eval [--json OUT.json] PRED_DIR GT_DIR
                                  print kidney and tumor Dice, per-tumor sensitivity
                                  and false positives per image
  protrude protrusion [flags] MASK -o OUT.nii.gz
                                  write the protruded regions of a binary organ mask
  protrude series DIR             list the DICOM image stacks (series) in DIR, with
                                  size, spacing, warnings and the key for --series
  protrude convert INPUT OUT.nii[.gz] [--series KEY] [--sync]
                                  write the volume Protrude reads from INPUT as NIfTI
  protrude check-bundle --models DIR
                                  validate a model bundle and run one patch per net
  protrude version                print the version and the embedded bundle id

Common flags (see "protrude segment -h"):
  --models DIR    model bundle folder (default: the embedded demo bundle)
  --device D      auto, cpu or cuda (default auto)
  --ort-lib PATH  libonnxruntime.so to load (default: $PROTRUDE_ORT_LIB, then lib/ next
                  to the binary, then third_party/ of the source tree)
`
