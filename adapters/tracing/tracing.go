// Package tracing is Portcullis' OpenTelemetry tracing: an OTLP/HTTP
// exporter (off unless an endpoint is configured), and spans for what a
// request waits on — MongoDB commands, Redis commands, password hashing
// and the providers (SMS, mail, CAPTCHA, a storefront's cart webhook) — as
// children of the request's span, which the HTTP server starts (W3C
// traceparent honoured). No outbound call carries a traceparent: the
// providers are other parties' services.
//
// With tracing off the global tracer provider is OpenTelemetry's no-op:
// Start costs next to nothing and the trace ids are zero.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of Portcullis' spans.
const Name = "github.com/portcullis/portcullis"

// Options configure the exporter.
type Options struct {
	// Endpoint is the OTLP/HTTP collector's base URL, such as
	// http://127.0.0.1:4318 (spans go to /v1/traces); empty: off.
	Endpoint string
	// SampleRatio is the share of new traces recorded (0 to 1); a request
	// that arrives with a sampled traceparent is recorded whatever it is.
	SampleRatio float64
	// Version is the service.version of the spans' resource.
	Version string
}

// Setup installs the global tracer provider and propagator when an
// endpoint is set, and returns the function that flushes and stops it.
func Setup(ctx context.Context, o Options) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if o.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL", o.Endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithTimeout(10 * time.Second)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" {
		opts = append(opts, otlptracehttp.WithURLPath(p+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := sdkresource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("portcullis"), semconv.ServiceVersion(o.Version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Start starts a span named name, a child of ctx's.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return otel.Tracer(Name).Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartClient starts a client span named name, a child of ctx's: the
// span of a call to another service, whose attributes say where it went.
func StartClient(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return otel.Tracer(Name).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// StartServer starts a server span named name, a child of ctx's (the
// caller's traceparent, if any): the span of a request this server answers.
func StartServer(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return otel.Tracer(Name).Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// End ends span, marking it failed when err is not nil.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// TraceID is ctx's trace id, "" when it has none (tracing off).
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
