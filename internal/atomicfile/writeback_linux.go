package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback uses sync_file_range(2) with SYNC_FILE_RANGE_WRITE, which queues the
// range's dirty pages for writing and returns. It is a hint, so its error is ignored.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
