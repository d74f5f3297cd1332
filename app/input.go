package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"protrude/volume"
	"protrude/volume/dicomseries"
	"protrude/volume/nifti"
)

// demoCasePath is the study path shown for the embedded demo case.
const demoCasePath = "demo phantom (embedded)"

// study is a loaded CT with what is needed to write results that match it.
type study struct {
	// Path is the NIfTI file or DICOM folder it came from.
	Path string
	CT   *volume.Volume
	// NIfTIHeader is set for NIfTI input, so masks carry the input's qform and sform.
	NIfTIHeader *nifti.Header
	// Series is set for DICOM input, and SeriesKey is the key of its image stack.
	Series    *dicomseries.SeriesInfo
	SeriesKey string
	// Demo is set for the embedded demo case, whose Path is demoCasePath.
	Demo bool
	// Warnings are shown to the user, such as a non-CT modality.
	Warnings []string
	// fingerprint caches scanFingerprint(CT) for the sessions saved from it.
	fingerprint string
}

// loadStudy reads a NIfTI file (.nii, .nii.gz) or a DICOM folder with exactly one
// loadable image stack.
func loadStudy(path string) (*study, error) { return loadStudySeries(path, "") }

// loadStudySeries reads a NIfTI file or the stack of a DICOM folder whose key is
// seriesKey. An empty seriesKey requires a folder with exactly one loadable stack.
func loadStudySeries(path, seriesKey string) (*study, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	if fi.IsDir() {
		c, st, err := scanForStack(path, seriesKey)
		if err != nil {
			return nil, err
		}
		return loadStack(c, st)
	}
	if seriesKey != "" {
		return nil, fmt.Errorf("open input %s: --series applies to DICOM folders only", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open input %s: not a regular file or a folder (mode %v)", path, fi.Mode().Type())
	}
	lower := strings.ToLower(path)
	if !strings.HasSuffix(lower, ".nii") && !strings.HasSuffix(lower, ".nii.gz") {
		return nil, fmt.Errorf("open input %s: not a NIfTI file (.nii or .nii.gz) or a DICOM folder", path)
	}
	ct, hdr, err := nifti.Read(path)
	if err != nil {
		return nil, err
	}
	return &study{Path: path, CT: ct, NIfTIHeader: hdr}, nil
}

// scanForStack scans the DICOM folder dir and returns the stack whose key is
// seriesKey. An empty seriesKey requires a folder with exactly one loadable stack.
func scanForStack(dir, seriesKey string) (*dicomseries.Catalog, *dicomseries.Stack, error) {
	c, err := dicomseries.Scan(dir)
	if err != nil {
		return nil, nil, err
	}
	var st *dicomseries.Stack
	if seriesKey == "" {
		st, err = c.Only()
		if errors.Is(err, dicomseries.ErrMultipleStacks) {
			return nil, nil, fmt.Errorf("%w\nList the stacks with: protrude series %s\nthen choose one with --series KEY", err, dir)
		}
	} else {
		st, err = c.Find(seriesKey)
	}
	if err != nil {
		return nil, nil, err
	}
	return c, st, nil
}

// loadStack reads one stack of a scanned DICOM folder.
func loadStack(c *dicomseries.Catalog, st *dicomseries.Stack) (*study, error) {
	ct, info, err := c.Load(st)
	if err != nil {
		return nil, err
	}
	return &study{Path: c.Dir, CT: ct, Series: info, SeriesKey: st.Key, Warnings: info.Warnings}, nil
}

// writeMask writes m as NIfTI with the research notice, carrying the input's
// qform and sform when the study came from NIfTI.
func (s *study) writeMask(path string, m *volume.Mask) error {
	return nifti.WriteMask(path, m, nifti.WriteOptions{
		Description: "Protrude: " + researchNotice,
		Template:    s.NIfTIHeader,
	})
}
