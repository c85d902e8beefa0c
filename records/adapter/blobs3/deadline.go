package blobs3

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// attempts is how many times the SDK tries an S3 call: once more after a
// failure that may pass (a connection dropped, a 5xx, an attempt out of
// time).
const attempts = 2

// answerMargin is what an S3 call leaves of its caller's deadline, so that
// a server that hangs fails the call with the store's fault (503) while the
// caller can still answer, rather than the call taking the whole deadline:
// a tenth of the time left, at most a second.
func answerMargin(left time.Duration) time.Duration { return min(left/10, time.Second) }

// withAttemptDeadlines ends an S3 call made under a deadline answerMargin
// before it, and shares that time among the call's attempts: each gets
// what is left over the attempts still allowed, so that the call, retry
// included, ends in time for its caller to answer, and a retry after a
// hung attempt still has its share. A call without a deadline (the
// sweeper's) keeps the transport's timeouts alone.
func withAttemptDeadlines(stack *middleware.Stack) error {
	if _, ok := stack.Finalize.Get("Retry"); !ok { // a presigning stack sends nothing
		return nil
	}
	begin := middleware.FinalizeMiddlewareFunc("CallDeadline",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c := &call{}
			if deadline, ok := ctx.Deadline(); ok {
				c.end = deadline.Add(-answerMargin(time.Until(deadline)))
			}
			return next.HandleFinalize(context.WithValue(ctx, callKey{}, c), in)
		})
	if err := stack.Finalize.Insert(begin, "Retry", middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("AttemptDeadline", attemptDeadline), "Retry", middleware.After)
}

// callKey holds an S3 call's *call.
type callKey struct{}

// call is when an S3 call must end, if it must, and the attempts it began.
type call struct {
	end   time.Time
	tried int
}

// attemptDeadline runs one attempt within its share of the deadline.
func attemptDeadline(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil || c.end.IsZero() {
		return next.HandleFinalize(ctx, in)
	}
	c.tried++
	share := time.Until(c.end) / time.Duration(max(attempts-c.tried+1, 1))
	if share <= 0 {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &attemptTimeout{retry: false}
	}
	// The attempt's context is cancelled by a timer rather than bound by a
	// deadline: an object's body streams under it after the call returns,
	// past the attempt's share, until the reader closes it.
	actx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(share, cancel)
	out, md, err := next.HandleFinalize(actx, in)
	get, streams := out.Result.(*s3.GetObjectOutput)
	if !timer.Stop() && ctx.Err() == nil && (err != nil || streams) {
		cancel()
		if streams && get != nil && get.Body != nil {
			_ = get.Body.Close()
		}
		return middleware.FinalizeOutput{}, md, &attemptTimeout{share: share, retry: true}
	}
	if err == nil && streams && get != nil && get.Body != nil {
		get.Body = &cancelOnClose{ReadCloser: get.Body, cancel: cancel}
		return out, md, nil
	}
	cancel()
	return out, md, err
}

// attemptTimeout is an attempt that ran out of its share of the deadline
// (retried), or found none left (not retried).
type attemptTimeout struct {
	share time.Duration
	retry bool
}

func (e *attemptTimeout) Error() string {
	if !e.retry {
		return "no time left for an S3 call within the request's deadline"
	}
	return fmt.Sprintf("no answer from S3 within the attempt's %s", e.share.Round(time.Millisecond))
}

// Timeout marks the failure as a timeout.
func (e *attemptTimeout) Timeout() bool { return true }

// RetryableError tells the SDK's retryer whether another attempt may follow.
func (e *attemptTimeout) RetryableError() bool { return e.retry }

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
