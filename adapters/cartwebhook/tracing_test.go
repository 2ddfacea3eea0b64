package cartwebhook_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/adapters/internal/nettest"
	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/domain/storefront"
)

// TestCallsAreClientSpans: each webhook call is a client span
// "cartwebhook <op>", a child of the caller's, with the method, the
// service's host and port and the answer's status — never the URL, whose
// query may hold a token, not even in a failure's description — and is
// marked failed when the call fails. Like the other providers' calls, the
// request carries no traceparent.
//
// It installs the process's tracer provider and propagator (as
// tracing.Setup does): no other test of the package does, and each span
// here is told apart by its trace.
func TestCallsAreClientSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	var mu sync.Mutex
	var traceparents []string
	ok, _ := serve(t, nil)
	seen := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceparents = append(traceparents, r.Header.Get("traceparent"))
		mu.Unlock()
		ok.Config.Handler.ServeHTTP(w, r)
	})
	const token = "query-s3cr3t-token"
	good, _ := serve(t, seen)
	down, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	refusing := "http://" + nettest.Refusing(t)

	// spansOf calls f under a root span and returns the spans of its trace
	// other than the root, and the root.
	spansOf := func(t *testing.T, f func(ctx context.Context) error) (sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan, error) {
		t.Helper()
		ctx, root := tracing.Start(context.Background(), "test root")
		err := f(ctx)
		root.End()
		var rootSpan sdktrace.ReadOnlySpan
		var out []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
				continue
			}
			if s.SpanContext().SpanID() == root.SpanContext().SpanID() {
				rootSpan = s
			} else {
				out = append(out, s)
			}
		}
		return rootSpan, out, err
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			m[kv.Key] = kv.Value
		}
		return m
	}
	portOf := func(rawURL string) int64 {
		u, _ := url.Parse(rawURL)
		_, p, _ := net.SplitHostPort(u.Host)
		var n int64
		_, _ = fmt.Sscan(p, &n)
		return n
	}
	// noURL fails when anything the span holds names the URL's path or
	// query.
	noURL := func(t *testing.T, s sdktrace.ReadOnlySpan) {
		t.Helper()
		text := fmt.Sprintf("%v %v %v", s.Attributes(), s.Status(), s.Events())
		if strings.Contains(text, token) || strings.Contains(text, "/hook") {
			t.Errorf("span %q holds the URL: %s", s.Name(), text)
		}
	}

	cases := []struct {
		name     string
		url      string
		call     func(ctx context.Context, url string) error
		span     string
		status   int64 // 0: no answer
		failed   bool
		received bool
	}{
		{"a merge answered", good.URL + "/hook?token=" + token, func(ctx context.Context, u string) error {
			_, _, err := newStore(t, u, 0).Merge(ctx, "shop", "u1", C(L("sku-1", "", 2)), W("sku-9"), storefront.Limits{})
			return err
		}, "cartwebhook merge", 200, false, true},
		{"a get the service cannot answer", down.URL + "/hook?token=" + token, func(ctx context.Context, u string) error {
			_, _, _, err := newStore(t, u, 0).Get(ctx, "shop", "u1")
			return err
		}, "cartwebhook get", 503, true, false},
		{"a replace to a refused connection", refusing + "/hook?token=" + token, func(ctx context.Context, u string) error {
			return newStore(t, u, 0).ReplaceCart(ctx, "shop", "u1", C(L("sku-1", "", 1)))
		}, "cartwebhook replace_cart", 0, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, spans, err := spansOf(t, func(ctx context.Context) error { return tc.call(ctx, tc.url) })
			if (err != nil) != tc.failed {
				t.Fatalf("call: %v, want failed %v", err, tc.failed)
			}
			if len(spans) != 1 {
				t.Fatalf("%d spans in the call's trace, want 1", len(spans))
			}
			s := spans[0]
			a := attrs(s)
			if s.Name() != tc.span || s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != root.SpanContext().SpanID() {
				t.Errorf("span %q of kind %v, parent %v; want %q, client, a child of the caller's", s.Name(), s.SpanKind(), s.Parent().SpanID(), tc.span)
			}
			u, _ := url.Parse(tc.url)
			if a["http.request.method"].AsString() != "POST" || a["server.address"].AsString() != u.Hostname() || a["server.port"].AsInt64() != portOf(tc.url) {
				t.Errorf("attributes %v: want POST to %s:%d", a, u.Hostname(), portOf(tc.url))
			}
			if got, has := a["http.response.status_code"]; (tc.status == 0) == has || got.AsInt64() != tc.status {
				t.Errorf("status code attribute %v (set %v), want %d", got.AsInt64(), has, tc.status)
			}
			if failed := s.Status().Code == codes.Error; failed != tc.failed {
				t.Errorf("span status %v, want failed %v", s.Status(), tc.failed)
			}
			noURL(t, s)
			if tc.failed && tc.status == 0 && !strings.Contains(err.Error(), u.Hostname()) || strings.Contains(fmt.Sprint(err), token) {
				t.Errorf("the call's error %q: want a network failure to name the host, and no error the URL's query", err)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(traceparents) != 1 || traceparents[0] != "" {
		t.Errorf("the webhook received traceparent %q, want none (as the other providers)", traceparents)
	}
}
