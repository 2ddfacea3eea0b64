package e2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP trace receiver: it keeps every span sent to
// /v1/traces.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs map[*tracepb.Span]map[string]string
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{attrs: map[*tracepb.Span]map[string]string{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					a := map[string]string{}
					for _, kv := range sp.Attributes {
						a[kv.Key] = kv.Value.String()
					}
					c.spans = append(c.spans, sp)
					c.attrs[sp] = a
				}
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// trace returns the spans of the trace id (hex) once one named root is
// among them, waiting up to 10s.
func (c *collector) trace(t *testing.T, traceID, root string) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		var out []*tracepb.Span
		found := false
		for _, sp := range c.spans {
			if hexID(sp.TraceId) == traceID {
				out = append(out, sp)
				found = found || sp.Name == root
			}
		}
		c.mu.Unlock()
		if found {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q in trace %s after 10s (%d spans of it)", root, traceID, len(out))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

// With otlp_endpoint set, a request is a span (its route template, tenant
// and status; a child of the caller's traceparent) with a child span for
// each MongoDB command, Redis command and password hash it waited on, and
// the access log names its trace id.
func TestTracing(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	s := startTenantsEnv(t, map[string]string{"PORTCULLIS_OTLP_ENDPOINT": col.srv.URL, "OTEL_BSP_SCHEDULE_DELAY": "100"},
		tenantSpec{ID: "local", Domains: []string{"localhost"}})
	a := newAccount("tracing")
	register(t, s, "localhost", a)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := s.do(t, http.MethodPost, "/auth/v1/login", withHost("localhost"), withJSON(map[string]any{"email": a.Email, "password": a.Password}),
		withHeader("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"))
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	if got := s.waitRequestLogged(t, r.RequestID).Str("trace_id"); got != traceID {
		t.Fatalf("the access log's trace_id %q, want the caller's %s", got, traceID)
	}
	spans := col.trace(t, traceID, "POST /auth/v1/login")
	var root *tracepb.Span
	names := map[string]int{}
	for _, sp := range spans {
		names[strings.SplitN(sp.Name, " ", 2)[0]]++
		if sp.Name == "POST /auth/v1/login" {
			root = sp
		}
	}
	col.mu.Lock()
	attrs := col.attrs[root]
	col.mu.Unlock()
	if hexID(root.ParentSpanId) != "00f067aa0ba902b7" || !strings.Contains(attrs["portcullis.tenant"], "local") ||
		!strings.Contains(attrs["http.route"], "/auth/v1/login") || !strings.Contains(attrs["http.response.status_code"], "200") {
		t.Errorf("request span: parent %x, attributes %v", root.ParentSpanId, attrs)
	}
	for _, kind := range []string{"mongodb", "redis", "password"} {
		if names[kind] == 0 {
			t.Errorf("no %s span in the trace: %v", kind, names)
		}
	}
	// The request is a server span, the stores' commands client spans
	// (calls to other services), the hash an internal one.
	wantKind := map[string]tracepb.Span_SpanKind{"POST": tracepb.Span_SPAN_KIND_SERVER, "mongodb": tracepb.Span_SPAN_KIND_CLIENT,
		"redis": tracepb.Span_SPAN_KIND_CLIENT, "password": tracepb.Span_SPAN_KIND_INTERNAL}
	for _, sp := range spans {
		if want, ok := wantKind[strings.SplitN(sp.Name, " ", 2)[0]]; ok && sp.Kind != want {
			t.Errorf("span %q is of kind %s, want %s", sp.Name, sp.Kind, want)
		}
	}
	for _, sp := range spans {
		if sp != root && hexID(sp.ParentSpanId) == "" {
			t.Errorf("span %q has no parent", sp.Name)
		}
	}
}
