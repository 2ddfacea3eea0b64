package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// bufferedLog batches log lines into few writes: under load the access log
// would otherwise cost one write system call per request. It flushes every
// interval, when its buffer fills, and on Close; at most one interval of
// lines is lost if the process dies abruptly. (zap's BufferedWriteSyncer
// works the same way.)
type bufferedLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	quit chan struct{}
	done chan struct{}
}

func newBufferedLog(w io.Writer, size int, interval time.Duration) *bufferedLog {
	b := &bufferedLog{w: bufio.NewWriterSize(w, size), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.quit:
				return
			case <-t.C:
				b.Flush()
			}
		}
	}()
	return b
}

// Write buffers p; a line that does not fit is written through.
func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *bufferedLog) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}

// Close stops the flusher and flushes the rest.
func (b *bufferedLog) Close() {
	close(b.quit)
	<-b.done
	b.Flush()
}
