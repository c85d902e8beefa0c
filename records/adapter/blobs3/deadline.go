package blobs3

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// attempts is how many times the SDK tries an S3 call: once more after a
// failure that may pass (a connection refused or dropped, a 5xx), when
// time is left.
const attempts = 2

// answerMargin is what an S3 call leaves of its caller's deadline, so that
// a server that hangs fails the call with the store's fault (503) while the
// caller can still answer, rather than the call taking the whole deadline:
// a tenth of the time left, at most a second.
func answerMargin(left time.Duration) time.Duration { return min(left/10, time.Second) }

// withCallDeadline ends an S3 call made under a deadline answerMargin
// before it. Its first attempt may run until then: a server that answers
// slowly but in time is waited for, and its request (an upload's body with
// it) is sent once. An attempt that failed before then (a connection
// refused or reset, a 5xx) is retried in the time left, the SDK's backoff
// included; one cut at the call's end is not. A call without a deadline
// (the sweeper's) keeps the transport's timeouts alone.
func withCallDeadline(stack *middleware.Stack) error {
	if _, ok := stack.Finalize.Get("Retry"); !ok { // a presigning stack sends nothing
		return nil
	}
	if err := stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("CallDeadline", callDeadline), "Retry", middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("AttemptDeadline", attemptDeadline), "Retry", middleware.After)
}

// callKey holds an S3 call's *call.
type callKey struct{}

// call is an S3 call under a deadline: when it ends, and whether it has.
type call struct {
	left  time.Duration // from the call's start to its end
	ended atomic.Bool
}

// callDeadline runs the call, its attempts and the backoff between them,
// under a context cancelled at the call's end. The context is cancelled by
// a timer rather than bound by a deadline: an object's body streams under
// it after the call returns, past the call's end, until the reader closes
// it.
func callDeadline(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return next.HandleFinalize(ctx, in)
	}
	left := time.Until(deadline)
	c := &call{left: left - answerMargin(left)}
	cctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.left, func() { c.ended.Store(true); cancel() })
	out, md, err := next.HandleFinalize(context.WithValue(cctx, callKey{}, c), in)
	get, _ := out.Result.(*s3.GetObjectOutput)
	// A body whose context the timer has cancelled can no longer be read.
	if !timer.Stop() && ctx.Err() == nil && (err != nil || get != nil) {
		cancel()
		if get != nil && get.Body != nil {
			_ = get.Body.Close()
		}
		return middleware.FinalizeOutput{}, md, &callTimeout{waited: c.left}
	}
	if err == nil && get != nil && get.Body != nil {
		get.Body = &cancelOnClose{ReadCloser: get.Body, cancel: cancel}
		return out, md, nil
	}
	cancel()
	return out, md, err
}

// attemptDeadline refuses an attempt, and the retry of one, that the
// call's end has cut: no time is left for another.
func attemptDeadline(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return next.HandleFinalize(ctx, in)
	}
	if c.ended.Load() {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &callTimeout{waited: c.left}
	}
	out, md, err := next.HandleFinalize(ctx, in)
	if err != nil && c.ended.Load() {
		return out, md, &callTimeout{waited: c.left}
	}
	return out, md, err
}

// callTimeout is an S3 call that had no answer by its end.
type callTimeout struct {
	waited time.Duration
}

func (e *callTimeout) Error() string {
	return fmt.Sprintf("no answer from S3 within the %s the request's deadline left it", e.waited.Round(time.Millisecond))
}

// Timeout marks the failure as a timeout.
func (e *callTimeout) Timeout() bool { return true }

// RetryableError tells the SDK's retryer that no attempt may follow.
func (e *callTimeout) RetryableError() bool { return false }

// cancelOnClose ends the attempt's context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
