//go:build unix

package atomicfile

import (
	"io/fs"
	"syscall"
)

// newFileMode is the mode os.Create gives a new file: 0666 less the umask. The umask
// can be read only by setting it, so it is read once, before main starts any
// goroutine that creates files.
var newFileMode = func() fs.FileMode {
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	return fs.FileMode(0o666 &^ umask)
}()
