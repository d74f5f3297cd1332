//go:build !unix

package atomicfile

// newFileMode is the mode of a new file where there is no umask.
const newFileMode = 0o666
