package main

import (
	"fmt"
	"os"
	"strings"

	"protrude/volume"
	"protrude/volume/dicomseries"
	"protrude/volume/nifti"
)

// study is a loaded CT with what is needed to write results that match it.
type study struct {
	// Path is the NIfTI file or DICOM folder it came from.
	Path string
	CT   *volume.Volume
	// NIfTIHeader is set for NIfTI input, so masks carry the input's qform and sform.
	NIfTIHeader *nifti.Header
	// Series is set for DICOM input.
	Series *dicomseries.SeriesInfo
	// Warnings are shown to the user, such as a non-CT modality.
	Warnings []string
}

// loadStudy reads a NIfTI file (.nii, .nii.gz) or a folder with one DICOM series.
func loadStudy(path string) (*study, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	if fi.IsDir() {
		ct, info, err := dicomseries.ReadDir(path)
		if err != nil {
			return nil, err
		}
		return &study{Path: path, CT: ct, Series: info, Warnings: info.Warnings}, nil
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

// writeMask writes m as NIfTI with the research notice, carrying the input's
// qform and sform when the study came from NIfTI.
func (s *study) writeMask(path string, m *volume.Mask) error {
	return nifti.WriteMask(path, m, nifti.WriteOptions{
		Description: "Protrude: " + researchNotice,
		Template:    s.NIfTIHeader,
	})
}
