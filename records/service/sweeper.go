package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medisync/medisync/shared/clock"
)

// Sweeper removes orphan objects: content whose upload stopped before its
// metadata was written (a crash between the two, or a removal that failed),
// and what uploads cut by a crash left in the store (a multipart upload's
// parts, a temporary file). Only what is older than Grace is a candidate,
// so an upload in progress is never taken for an orphan.
type Sweeper struct {
	Blobs     BlobStore
	Documents DocumentRepository
	Clock     clock.Clock
	Grace     time.Duration // default 1 h, beyond the longest upload
	Batch     int           // objects examined per listing, default 500
}

// Sweep aborts the old unfinished uploads, then examines every object once
// and removes the orphans among them, returning how many of both it
// removed. A failure of either pass does not stop the other.
func (w Sweeper) Sweep(ctx context.Context) (int, error) {
	if w.Grace <= 0 {
		w.Grace = time.Hour
	}
	if w.Batch <= 0 {
		w.Batch = 500
	}
	cutoff := w.Clock.Now().Add(-w.Grace)
	// An upload cut by a crash holds its parts (up to the whole document)
	// where no object listing sees them.
	aborted, err := w.Blobs.AbortIncomplete(ctx, BlobPrefix, cutoff)
	if err != nil {
		err = fmt.Errorf("abort unfinished uploads: %w", err)
	}
	removed, oerr := w.sweepObjects(ctx, cutoff)
	return aborted + removed, errors.Join(err, oerr)
}

// sweepObjects removes the objects older than cutoff that no document names.
func (w Sweeper) sweepObjects(ctx context.Context, cutoff time.Time) (int, error) {
	removed, after := 0, ""
	for {
		infos, err := w.Blobs.List(ctx, BlobPrefix, after, w.Batch)
		if err != nil {
			return removed, fmt.Errorf("list objects: %w", err)
		}
		if len(infos) == 0 {
			return removed, nil
		}
		after = infos[len(infos)-1].Key
		var old []string
		for _, in := range infos {
			if in.Modified.Before(cutoff) {
				old = append(old, in.Key)
			}
		}
		if len(old) == 0 {
			continue
		}
		known, err := w.Documents.KnownBlobKeys(ctx, old)
		if err != nil {
			return removed, fmt.Errorf("match objects to documents: %w", err)
		}
		for _, k := range old {
			if known[k] {
				continue
			}
			if err := w.Blobs.Delete(ctx, k); err != nil {
				return removed, fmt.Errorf("remove orphan object: %w", err)
			}
			removed++
		}
	}
}
