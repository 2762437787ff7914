package wxapi

import "context"

type traceKey struct{}

// WithTraceParent returns a context whose calls carry the W3C traceparent
// header tp, continuing the bot's trace into the API call.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, tp)
}

func traceParent(ctx context.Context) string {
	tp, _ := ctx.Value(traceKey{}).(string)
	return tp
}
