package nifti

import "protrude/volume"

// GridToleranceMM is the largest difference between corresponding entries of two
// grids' LPS affines, in mm, at which [ReadMaskOnGrid] treats the grids as equal. It
// is volume.GridToleranceMM, which metrics.CheckSameGrid uses too.
const GridToleranceMM = volume.GridToleranceMM
