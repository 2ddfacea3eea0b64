package audittest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/application/audit"
)

// Recorder is an audit.Recorder that keeps the events as the use cases
// hand them over, unstamped, for their unit tests. The zero value is
// ready.
type Recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

var _ audit.Recorder = (*Recorder)(nil)

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Record keeps e.
func (r *Recorder) Record(_ context.Context, e audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.AMR, e.Changes = slices.Clone(e.AMR), slices.Clone(e.Changes)
	r.events = append(r.events, e)
}

// Events returns what was recorded, in order.
func (r *Recorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Of returns the recorded events of type t, in order.
func (r *Recorder) Of(t audit.Type) []audit.Event {
	var out []audit.Event
	for _, e := range r.Events() {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

// Types returns the types of the recorded events, in order.
func (r *Recorder) Types() []audit.Type {
	var out []audit.Type
	for _, e := range r.Events() {
		out = append(out, e.Type)
	}
	return out
}

// Reset forgets what was recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

// Holding returns the recorded events any of whose fields contains one of
// secrets (a password, a code, a token or a link a test used): there
// must be none.
func (r *Recorder) Holding(secrets ...string) []audit.Event { return Holding(r.Events(), secrets...) }

// Holding returns those of events any of whose fields contains one of
// secrets.
func Holding(events []audit.Event, secrets ...string) []audit.Event {
	var out []audit.Event
	for _, e := range events {
		text := fmt.Sprintf("%+v", e)
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
