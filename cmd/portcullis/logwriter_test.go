package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int // writes
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.b.Write(p)
}

func (s *syncBuf) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.n
}

func TestBufferedLogBatchesAndFlushes(t *testing.T) {
	t.Parallel()
	out := &syncBuf{}
	b := newBufferedLog(out, 64<<10, 20*time.Millisecond)
	for i := 0; i < 1000; i++ {
		_, _ = b.Write([]byte("line\n"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, writes := out.snapshot()
		if strings.Count(s, "line\n") == 1000 {
			if writes > 10 {
				t.Fatalf("1000 lines took %d writes; they must be batched", writes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("buffered lines never flushed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, _ = b.Write([]byte("last\n"))
	b.Close()
	if s, _ := out.snapshot(); !strings.HasSuffix(s, "last\n") {
		t.Fatal("Close must flush what is left")
	}
}
