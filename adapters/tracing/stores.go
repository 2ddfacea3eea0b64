package tracing

import (
	"context"
	"errors"
	"net"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// MongoMonitor returns a command monitor that makes each MongoDB command
// a span ("mongodb <command>", with the collection's database), a child of
// the context the command ran with. Command bodies are never recorded:
// they hold users' data.
func MongoMonitor() *event.CommandMonitor {
	var spans sync.Map // request id → span
	end := func(id int64, err error) {
		if s, ok := spans.LoadAndDelete(id); ok {
			End(s.(trace.Span), err)
		}
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if !trace.SpanContextFromContext(ctx).IsValid() {
				return // no request's trace: not worth a root span each
			}
			_, s := StartClient(ctx, "mongodb "+e.CommandName, attribute.String("db.system", "mongodb"),
				attribute.String("db.operation.name", e.CommandName), attribute.String("db.namespace", e.DatabaseName))
			spans.Store(e.RequestID, s)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { end(e.RequestID, nil) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { end(e.RequestID, e.Failure) },
	}
}

// RedisHook makes each Redis command and pipeline a span ("redis <cmd>"),
// a child of the command's context. Arguments are never recorded.
type RedisHook struct{}

var _ goredis.Hook = RedisHook{}

// DialHook dials as next does.
func (RedisHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook wraps one command in a span.
func (RedisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return next(ctx, cmd)
		}
		ctx, s := StartClient(ctx, "redis "+cmd.Name(), attribute.String("db.system", "redis"), attribute.String("db.operation.name", cmd.Name()))
		err := next(ctx, cmd)
		End(s, redisErr(err))
		return err
	}
}

// ProcessPipelineHook wraps a pipeline in one span.
func (RedisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return next(ctx, cmds)
		}
		ctx, s := StartClient(ctx, "redis pipeline", attribute.String("db.system", "redis"), attribute.Int("db.operation.batch.size", len(cmds)))
		err := next(ctx, cmds)
		End(s, redisErr(err))
		return err
	}
}

// redisErr is err unless it only says a key was missing.
func redisErr(err error) error {
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}
