// Package repotest holds the contract suite of the service's Repository
// port, so that every adapter proves the same behaviour with the same tests.
package repotest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

// t0 has microseconds, the finest precision every store keeps.
var t0 = time.Date(2027, 3, 1, 10, 0, 0, 123456000, time.UTC)

func delivery(now time.Time) notice.Delivery {
	return notice.Delivery{ID: ids.New(), UserID: ids.New(), Kind: notice.AppointmentBooked, Recipient: "ada@example.org",
		Subject: "Subject", Text: "text", HTML: "<p>html</p>", Status: notice.Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
}

// RunRepositoryContract checks a Repository made fresh by newRepo for each subtest.
func RunRepositoryContract(t *testing.T, newRepo func(t *testing.T) service.Repository) {
	ctx := context.Background()

	t.Run("an event applies once", func(t *testing.T) {
		r := newRepo(t)
		ev, err := events.New("auth.user_registered", 1, "u", nil, t0)
		require.NoError(t, err)
		u := notice.User{ID: ids.New(), Email: "ada@example.org", Role: "PATIENT", Language: "en"}
		runs := 0
		apply := func(ctx context.Context, tx service.Tx) error {
			runs++
			return tx.PutUser(ctx, u)
		}
		fresh, err := r.Apply(ctx, ev, t0, apply)
		require.NoError(t, err)
		assert.True(t, fresh)
		fresh, err = r.Apply(ctx, ev, t0, apply)
		require.NoError(t, err)
		assert.False(t, fresh)
		assert.Equal(t, 1, runs)

		ev2, err := events.New("auth.user_registered", 1, "u", nil, t0)
		require.NoError(t, err)
		u.Email = "ada@example.com"
		_, err = r.Apply(ctx, ev2, t0, func(ctx context.Context, tx service.Tx) error {
			if err := tx.PutUser(ctx, u); err != nil {
				return err
			}
			got, found, err := tx.User(ctx, u.ID)
			require.True(t, found)
			assert.Equal(t, u, got, "a user upserts")
			return err
		})
		require.NoError(t, err)
	})

	t.Run("a failed effect leaves no claim", func(t *testing.T) {
		r := newRepo(t)
		ev, err := events.New("auth.user_registered", 1, "u", nil, t0)
		require.NoError(t, err)
		_, err = r.Apply(ctx, ev, t0, func(ctx context.Context, tx service.Tx) error {
			require.NoError(t, tx.QueueMail(ctx, delivery(t0)))
			return assert.AnError
		})
		require.ErrorIs(t, err, assert.AnError)
		d, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, d.Items, "rolled back with the claim")
		fresh, err := r.Apply(ctx, ev, t0, func(context.Context, service.Tx) error { return nil })
		require.NoError(t, err)
		assert.True(t, fresh, "the redelivery applies")
	})

	t.Run("mail is leased once and ends sent, retried or failed", func(t *testing.T) {
		r := newRepo(t)
		var queued []notice.Delivery
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			for range 3 {
				d := delivery(t0)
				queued = append(queued, d)
				if err := tx.QueueMail(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)

		// Concurrent workers never take the same mail.
		var mu sync.Mutex
		taken := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := r.ClaimMail(ctx, t0, time.Minute, 10)
				if err != nil {
					return // a busy database refuses a worker; it tries again next pass
				}
				mu.Lock()
				for _, d := range got {
					taken[d.ID]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		for id, n := range taken {
			assert.Equal(t, 1, n, id)
		}
		rest, err := r.ClaimMail(ctx, t0, time.Minute, 10)
		require.NoError(t, err)
		for _, d := range rest {
			taken[d.ID]++
		}
		require.Len(t, taken, 3)
		again, err := r.ClaimMail(ctx, t0.Add(30*time.Second), time.Minute, 10)
		require.NoError(t, err)
		assert.Empty(t, again, "leased")

		require.NoError(t, r.MarkSent(ctx, queued[0].ID, t0))
		require.NoError(t, r.MarkRetry(ctx, queued[1].ID, 1, "421 try later", t0.Add(time.Hour), t0))
		require.NoError(t, r.MarkFailed(ctx, queued[2].ID, 1, "550 no such mailbox", t0))

		lapsed, err := r.ClaimMail(ctx, t0.Add(2*time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, lapsed, 1, "only the retry is due")
		assert.Equal(t, queued[1].ID, lapsed[0].ID)
		assert.Equal(t, 2, lapsed[0].Attempts)
		assert.Equal(t, "text", lapsed[0].Text, "a queued mail keeps its body")
		relapsed, err := r.ClaimMail(ctx, t0.Add(3*time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, relapsed, 1, "a lapsed lease is taken again")
		held, err := r.RenewLease(ctx, lapsed[0].ID, lapsed[0].Attempts, t0.Add(4*time.Hour))
		require.NoError(t, err)
		assert.False(t, held, "the attempt whose lease lapsed no longer holds the mail")
		held, err = r.RenewLease(ctx, relapsed[0].ID, relapsed[0].Attempts, t0.Add(4*time.Hour))
		require.NoError(t, err)
		assert.True(t, held, "the latest attempt renews its lease")
		none, err := r.ClaimMail(ctx, t0.Add(3*time.Hour+2*time.Minute), time.Minute, 10)
		require.NoError(t, err)
		assert.Empty(t, none, "a renewed lease holds past the first one")

		failed, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
		require.NoError(t, err)
		require.Len(t, failed.Items, 1)
		assert.Equal(t, "550 no such mailbox", failed.Items[0].LastError)
		sent, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Status: notice.Sent, Limit: 10})
		require.NoError(t, err)
		require.Len(t, sent.Items, 1)
		assert.Equal(t, t0, sent.Items[0].SentAt)
		assert.Empty(t, sent.Items[0].Text)

		all, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Limit: 2})
		require.NoError(t, err)
		require.Len(t, all.Items, 2)
		more, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Limit: 2, Cursor: all.NextCursor})
		require.NoError(t, err)
		require.Len(t, more.Items, 1)
		assert.Empty(t, more.NextCursor)
	})

	t.Run("an attempt whose lease lapsed cannot end the next one", func(t *testing.T) {
		// A worker whose lease lapsed (a long batch, a slow server) still
		// holds the mail as it was claimed; another worker has taken it
		// and is sending it. The first one's failure, an expired link or
		// a server's fault, must not end the second one's attempt.
		for name, end := range map[string]func(r service.Repository, stale notice.Delivery) error{
			"failed": func(r service.Repository, stale notice.Delivery) error {
				return r.MarkFailed(ctx, stale.ID, stale.Attempts, "expired before it could be sent", t0.Add(3*time.Minute))
			},
			"retried": func(r service.Repository, stale notice.Delivery) error {
				return r.MarkRetry(ctx, stale.ID, stale.Attempts, "421 try later", t0.Add(time.Hour), t0.Add(3*time.Minute))
			},
		} {
			t.Run(name, func(t *testing.T) {
				r := newRepo(t)
				d := delivery(t0)
				_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error { return tx.QueueMail(ctx, d) })
				require.NoError(t, err)
				first, err := r.ClaimMail(ctx, t0, time.Minute, 10)
				require.NoError(t, err)
				require.Len(t, first, 1)
				second, err := r.ClaimMail(ctx, t0.Add(2*time.Minute), time.Minute, 10)
				require.NoError(t, err)
				require.Len(t, second, 1, "the lapsed lease is taken")
				held, err := r.RenewLease(ctx, second[0].ID, second[0].Attempts, t0.Add(4*time.Minute))
				require.NoError(t, err)
				require.True(t, held)

				require.NoError(t, end(r, first[0]))
				require.NoError(t, r.MarkSent(ctx, second[0].ID, t0.Add(3*time.Minute)))
				got, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Limit: 10})
				require.NoError(t, err)
				require.Len(t, got.Items, 1)
				assert.Equal(t, notice.Sent, got.Items[0].Status, "the mail the second attempt sent is sent")
				none, err := r.ClaimMail(ctx, t0.Add(2*time.Hour), time.Minute, 10)
				require.NoError(t, err)
				assert.Empty(t, none, "and never sent again")
			})
		}
	})

	t.Run("an appointment's mail of the kinds named is withdrawn by a later version unless it is on its way", func(t *testing.T) {
		r := newRepo(t)
		appt, other := ids.New(), ids.New()
		reminder := func(appointment string, version int64, due time.Time) notice.Delivery {
			d := delivery(due)
			d.Kind, d.AppointmentID, d.AppointmentVersion = notice.AppointmentReminder, appointment, version
			return d
		}
		later := t0.Add(time.Hour)
		queued := reminder(appt, 1, later)
		leased, renewed, retried, orphaned := reminder(appt, 1, t0), reminder(appt, 1, t0), reminder(appt, 1, t0), reminder(appt, 1, t0)
		current := reminder(appt, 2, later)
		confirmation := reminder(appt, 1, later)
		confirmation.Kind = notice.AppointmentBooked
		otherAppt := reminder(other, 1, later)
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			for _, d := range []notice.Delivery{queued, leased, renewed, retried, orphaned, current, confirmation, otherAppt} {
				if err := tx.QueueMail(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)

		// Four are taken by workers: one has not renewed its lease yet, two
		// have (their mails are on the way to the server), one worker dies.
		taken, err := r.ClaimMail(ctx, t0, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, taken, 4)
		for _, d := range taken {
			assert.Equal(t, appt, d.AppointmentID)
			assert.Equal(t, int64(1), d.AppointmentVersion)
		}
		for _, d := range []notice.Delivery{renewed, retried} {
			held, err := r.RenewLease(ctx, d.ID, 1, t0.Add(time.Minute))
			require.NoError(t, err)
			require.True(t, held)
		}

		const why = "withdrawn: the appointment was cancelled"
		_, err = r.Apply(ctx, mustEvent(t), t0.Add(10*time.Second), func(ctx context.Context, tx service.Tx) error {
			return tx.WithdrawMail(ctx, appt, 2, []notice.Kind{notice.AppointmentReminder}, why, t0.Add(10*time.Second))
		})
		require.NoError(t, err)

		held, err := r.RenewLease(ctx, leased.ID, 1, t0.Add(time.Minute))
		require.NoError(t, err)
		assert.False(t, held, "a withdrawn mail is not renewed, so not sent")
		require.NoError(t, r.MarkSent(ctx, renewed.ID, t0.Add(20*time.Second)), "a mail handed to the server before is sent")
		require.NoError(t, r.MarkRetry(ctx, retried.ID, 1, "421 try later", t0.Add(time.Minute), t0.Add(20*time.Second)))
		// The dead worker's lease lapses; the next one fails the mail.
		again, err := r.ClaimMail(ctx, t0.Add(2*time.Minute), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, again, 1)
		assert.Equal(t, orphaned.ID, again[0].ID)
		held, err = r.RenewLease(ctx, orphaned.ID, again[0].Attempts, t0.Add(3*time.Minute))
		require.NoError(t, err)
		assert.False(t, held)

		failed, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
		require.NoError(t, err)
		var withdrawn []string
		for _, d := range failed.Items {
			assert.Equal(t, why, d.LastError)
			withdrawn = append(withdrawn, d.ID)
		}
		assert.ElementsMatch(t, []string{queued.ID, leased.ID, retried.ID, orphaned.ID}, withdrawn,
			"queued, leased but not renewed, failed on the way and put back, or held by a dead worker: withdrawn")
		sent, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Status: notice.Sent, Limit: 10})
		require.NoError(t, err)
		require.Len(t, sent.Items, 1)
		assert.Equal(t, renewed.ID, sent.Items[0].ID)

		rest, err := r.ClaimMail(ctx, t0.Add(2*time.Hour), time.Minute, 10)
		require.NoError(t, err)
		var standing []string
		for _, d := range rest {
			standing = append(standing, d.ID)
		}
		assert.ElementsMatch(t, []string{current.ID, confirmation.ID, otherAppt.ID}, standing,
			"the version's own reminder, other messages and other appointments' reminders stand")

		// A later change withdraws the earlier version's confirmation, here
		// held by a worker, and only that.
		const superseded = "withdrawn: superseded"
		_, err = r.Apply(ctx, mustEvent(t), t0.Add(2*time.Hour), func(ctx context.Context, tx service.Tx) error {
			return tx.WithdrawMail(ctx, appt, 2, []notice.Kind{notice.AppointmentBooked, notice.AppointmentCancelled}, superseded, t0.Add(2*time.Hour))
		})
		require.NoError(t, err)
		for _, d := range rest {
			held, err := r.RenewLease(ctx, d.ID, d.Attempts, t0.Add(3*time.Hour))
			require.NoError(t, err)
			assert.Equal(t, d.ID != confirmation.ID, held, d.Kind)
		}
		failed, err = r.ListDeliveries(ctx, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
		require.NoError(t, err)
		require.Len(t, failed.Items, 5)
		for _, d := range failed.Items {
			if d.ID == confirmation.ID {
				assert.Equal(t, superseded, d.LastError)
			}
		}
	})

	t.Run("withdrawals racing the mail workers leave every reminder sent or withdrawn", func(t *testing.T) {
		// The workers renew and send while the events withdraw; whatever
		// the order, a mail ends sent or failed with the withdrawal's
		// reason, never queued or held, neither side fails, and no renewal
		// that began after its withdrawal committed lets a mail go.
		r := newRepo(t)
		const n = 40
		appts := make([]string, n)
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			for i := range appts {
				// Claimed in the order they are withdrawn, so that the two
				// meet on the same mails.
				appts[i] = ids.New()
				d := delivery(t0.Add(time.Duration(i) * time.Millisecond))
				d.Kind, d.AppointmentID, d.AppointmentVersion = notice.AppointmentReminder, appts[i], 1
				if err := tx.QueueMail(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)

		const why = "withdrawn: the appointment was moved"
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		fail := func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		committed := map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range appts {
				_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
					return tx.WithdrawMail(ctx, a, 2, []notice.Kind{notice.AppointmentReminder}, why, t0)
				})
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				committed[a] = true
				mu.Unlock()
			}
		}()
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					batch, err := r.ClaimMail(ctx, t0.Add(time.Second), time.Hour, 3)
					if err != nil {
						fail(err)
						return
					}
					if len(batch) == 0 {
						return
					}
					for _, d := range batch {
						mu.Lock()
						late := committed[d.AppointmentID]
						mu.Unlock()
						held, err := r.RenewLease(ctx, d.ID, d.Attempts, t0.Add(time.Hour))
						if err == nil && held && late {
							err = fmt.Errorf("the mail of %s was renewed after its withdrawal", d.AppointmentID)
						}
						if err == nil && held {
							err = r.MarkSent(ctx, d.ID, t0)
						}
						if err != nil {
							fail(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		require.Empty(t, errs)

		all, err := r.ListDeliveries(ctx, notice.DeliveryQuery{Limit: 2 * n})
		require.NoError(t, err)
		require.Len(t, all.Items, n)
		for _, d := range all.Items {
			switch d.Status {
			case notice.Sent:
			case notice.Failed:
				assert.Equal(t, why, d.LastError)
			default:
				t.Errorf("mail of %s left %s", d.AppointmentID, d.Status)
			}
		}
	})

	t.Run("events of one appointment apply one after the other", func(t *testing.T) {
		// applyVersion is the service's rule: an event older than the
		// reminder changes nothing. held is called between the read and
		// the write.
		applyVersion := func(r service.Repository, id string, version int64, held func()) error {
			_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
				rem, found, err := tx.Reminder(ctx, id)
				if err != nil || (found && version <= rem.Version) {
					return err
				}
				held()
				put := tx.PutReminder
				if !found {
					put = tx.InsertReminder
				}
				return put(ctx, notice.Reminder{AppointmentID: id, PatientUserID: ids.New(), DoctorName: "Dr. Weber",
					TimeZone: "Europe/Berlin", Start: t0.Add(48 * time.Hour), DueAt: t0.Add(24 * time.Hour),
					Status: notice.ReminderPending, Version: version, UpdatedAt: t0})
			})
			return err
		}
		// race applies the older event, holding it between its read and
		// its write while the newer one runs, then again if it failed (as
		// a redelivery would); the newer one must win.
		race := func(t *testing.T, r service.Repository, id string, older, newer int64) {
			read := make(chan struct{})
			first := make(chan error, 1)
			go func() {
				first <- applyVersion(r, id, older, func() {
					close(read)
					time.Sleep(300 * time.Millisecond) // the newer event reaches its read meanwhile
				})
			}()
			<-read
			require.NoError(t, applyVersion(r, id, newer, func() {}))
			if err := <-first; err != nil {
				require.NoError(t, applyVersion(r, id, older, func() {}), "applied again after %v", err)
			}
			_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
				got, found, err := tx.Reminder(ctx, id)
				require.True(t, found)
				assert.Equal(t, newer, got.Version, "the newer event's reminder stays")
				return err
			})
			require.NoError(t, err)
		}
		r := newRepo(t)
		t.Run("no reminder yet", func(t *testing.T) { race(t, r, ids.New(), 1, 2) })
		t.Run("an older event waits for a newer one", func(t *testing.T) {
			// The older event reads once the newer one has committed its
			// reminder, and finds itself outdated at the first attempt.
			id := ids.New()
			require.NoError(t, applyVersion(r, id, 1, func() {}))
			read := make(chan struct{})
			newer := make(chan error, 1)
			go func() {
				_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
					rem, _, err := tx.Reminder(ctx, id)
					if err != nil {
						return err
					}
					rem.Version = 3
					if err := tx.PutReminder(ctx, rem); err != nil {
						return err
					}
					close(read)
					time.Sleep(300 * time.Millisecond) // stored, not yet committed
					return nil
				})
				newer <- err
			}()
			<-read
			require.NoError(t, applyVersion(r, id, 2, func() {}), "no retry needed")
			require.NoError(t, <-newer)
		})
		t.Run("a reminder to change", func(t *testing.T) {
			id := ids.New()
			require.NoError(t, applyVersion(r, id, 1, func() {}))
			race(t, r, id, 2, 3)
		})
		t.Run("an event that found no reminder never stores over one added meanwhile", func(t *testing.T) {
			// Both events find no reminder; the newer one, held, lets the
			// older one run meanwhile. Where the older one commits first
			// (PostgreSQL, MariaDB: no row to lock), the newer one's insert
			// fails with ErrReminderAdded rather than update the older
			// one's reminder, which the newer one would never have read:
			// applied again, it reads it. Where the older one waits
			// (SQLite), it finds itself outdated. Either way one of them
			// found the other's reminder.
			id := ids.New()
			older := make(chan bool, 1)
			var newerFound bool
			apply := func(version int64, found *bool, held func()) error {
				_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
					rem, ok, err := tx.Reminder(ctx, id)
					if err != nil {
						return err
					}
					*found = ok
					if ok && version <= rem.Version {
						return nil
					}
					held()
					put := tx.PutReminder
					if !ok {
						put = tx.InsertReminder
					}
					return put(ctx, notice.Reminder{AppointmentID: id, PatientUserID: ids.New(), DoctorName: "Dr. Weber",
						TimeZone: "Europe/Berlin", Start: t0.Add(48 * time.Hour), DueAt: t0.Add(24 * time.Hour),
						Status: notice.ReminderPending, Version: version, UpdatedAt: t0})
				})
				return err
			}
			var olderErr error
			var olderFound bool
			started := false
			err := apply(2, &newerFound, func() {
				if newerFound || started {
					return
				}
				started = true
				go func() { olderErr = apply(1, &olderFound, func() {}); older <- true }()
				select {
				case <-older:
					older <- true
				case <-time.After(300 * time.Millisecond): // it waits for this transaction
				}
			})
			if errors.Is(err, service.ErrReminderAdded) {
				err = apply(2, &newerFound, func() {})
				require.True(t, newerFound, "applied again, the newer event reads the older one's reminder")
			}
			require.NoError(t, err)
			<-older
			require.NoError(t, olderErr)
			assert.True(t, newerFound || olderFound, "neither event read the other's reminder")
			_, err = r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
				got, found, err := tx.Reminder(ctx, id)
				require.True(t, found)
				assert.Equal(t, int64(2), got.Version)
				return err
			})
			require.NoError(t, err)
		})
	})

	t.Run("reminders fire once, newer versions win", func(t *testing.T) {
		r := newRepo(t)
		rem := notice.Reminder{AppointmentID: ids.New(), PatientUserID: ids.New(), DoctorName: "Dr. Weber", TimeZone: "Europe/Berlin",
			Start: t0.Add(48 * time.Hour), End: t0.Add(48*time.Hour + 30*time.Minute), DueAt: t0.Add(24 * time.Hour),
			Status: notice.ReminderPending, Version: 2, ChangeVersion: 1, UpdatedAt: t0}
		past := rem
		past.AppointmentID, past.Start, past.DueAt = ids.New(), t0.Add(-time.Hour), t0.Add(-25*time.Hour)
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			if err := tx.PutReminder(ctx, rem); err != nil {
				return err
			}
			got, found, err := tx.Reminder(ctx, rem.AppointmentID)
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, rem, got)
			_, found, _ = tx.Reminder(ctx, ids.New())
			assert.False(t, found)
			return tx.PutReminder(ctx, past)
		})
		require.NoError(t, err)

		var fired []notice.Reminder
		fire := func(now time.Time) int {
			n, err := r.FireDueReminders(ctx, now, 10, func(_ context.Context, _ service.Tx, r notice.Reminder) error {
				fired = append(fired, r)
				return nil
			})
			require.NoError(t, err)
			return n
		}
		assert.Zero(t, fire(t0), "not due; the past one is skipped")
		assert.Equal(t, 1, fire(t0.Add(24*time.Hour)))
		assert.Zero(t, fire(t0.Add(25*time.Hour)))
		require.Len(t, fired, 1)
		assert.Equal(t, rem.AppointmentID, fired[0].AppointmentID)
		assert.Equal(t, notice.ReminderSent, fired[0].Status)
	})

	t.Run("inbox pages, counts and reads per user", func(t *testing.T) {
		r := newRepo(t)
		me, other := ids.New(), ids.New()
		var mine []notice.Notification
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			for i := range 3 {
				n := notice.Notification{ID: ids.New(), UserID: me, Kind: notice.AppointmentBooked, Title: "Gebucht ✓", Body: "Ihr Termin", CreatedAt: t0.Add(time.Duration(i) * time.Second)}
				mine = append(mine, n)
				if err := tx.AddNotification(ctx, n); err != nil {
					return err
				}
			}
			return tx.AddNotification(ctx, notice.Notification{ID: ids.New(), UserID: other, Kind: notice.AppointmentBooked, Title: "t", Body: "b", CreatedAt: t0})
		})
		require.NoError(t, err)
		p, err := r.ListNotifications(ctx, notice.InboxQuery{UserID: me, Limit: 2})
		require.NoError(t, err)
		require.Len(t, p.Items, 2)
		assert.Equal(t, mine[2], p.Items[0], "newest first")
		p2, err := r.ListNotifications(ctx, notice.InboxQuery{UserID: me, Limit: 2, Cursor: p.NextCursor})
		require.NoError(t, err)
		require.Len(t, p2.Items, 1)
		assert.Equal(t, mine[0], p2.Items[0])

		_, err = r.MarkRead(ctx, other, mine[0].ID, t0)
		assert.ErrorIs(t, err, notice.ErrNotificationNotFound)
		n, err := r.MarkRead(ctx, me, mine[0].ID, t0.Add(time.Minute))
		require.NoError(t, err)
		assert.Equal(t, t0.Add(time.Minute), n.ReadAt)
		n, err = r.MarkRead(ctx, me, mine[0].ID, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, t0.Add(time.Minute), n.ReadAt, "the first reading stays")
		unread, err := r.ListNotifications(ctx, notice.InboxQuery{UserID: me, UnreadOnly: true, Limit: 10})
		require.NoError(t, err)
		assert.Len(t, unread.Items, 2)
		c, err := r.UnreadCount(ctx, me)
		require.NoError(t, err)
		assert.Equal(t, 2, c)
		all, err := r.MarkAllRead(ctx, me, t0)
		require.NoError(t, err)
		assert.Equal(t, 2, all)
		c, err = r.UnreadCount(ctx, other)
		require.NoError(t, err)
		assert.Equal(t, 1, c, "another user's inbox is untouched")
	})

	t.Run("a change's mail is known by appointment, version and kind, queued or held", func(t *testing.T) {
		r := newRepo(t)
		appt := ids.New()
		queued := delivery(t0.Add(time.Hour))
		queued.Kind, queued.AppointmentID, queued.AppointmentVersion = notice.AppointmentCancelled, appt, 2
		held := notice.HeldMail{ID: ids.New(), UserID: ids.New(), Kind: notice.AppointmentBooked, Data: []byte(`{}`),
			AppointmentID: appt, AppointmentVersion: 1, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			if err := tx.QueueMail(ctx, queued); err != nil {
				return err
			}
			return tx.HoldMail(ctx, held)
		})
		require.NoError(t, err)
		mailed := func(version int64, kind notice.Kind) (got bool) {
			_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) (err error) {
				got, err = tx.ChangeMailed(ctx, appt, version, kind)
				return err
			})
			require.NoError(t, err)
			return got
		}
		assert.True(t, mailed(2, notice.AppointmentCancelled), "queued")
		assert.True(t, mailed(1, notice.AppointmentBooked), "held")
		assert.False(t, mailed(1, notice.AppointmentCancelled), "another kind")
		assert.False(t, mailed(3, notice.AppointmentCancelled), "another version")
	})

	t.Run("held mail is taken once, oldest first, and purged once expired", func(t *testing.T) {
		r := newRepo(t)
		user, other := ids.New(), ids.New()
		held := []notice.HeldMail{
			{ID: ids.New(), UserID: user, Kind: notice.AppointmentBooked, Data: []byte(`{"DoctorName":"Dr. Weber"}`),
				AppointmentID: ids.New(), AppointmentVersion: 3, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0},
			{ID: ids.New(), UserID: user, Kind: notice.SlotOffered, Data: []byte(`{}`), ExpiresAt: t0.Add(2 * time.Hour), CreatedAt: t0.Add(time.Second)},
			{ID: ids.New(), UserID: other, Kind: notice.SlotOffered, Data: []byte(`{}`), ExpiresAt: t0.Add(time.Hour), CreatedAt: t0},
		}
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			for _, h := range []notice.HeldMail{held[1], held[0], held[2]} {
				if err := tx.HoldMail(ctx, h); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
		take := func() []notice.HeldMail {
			var got []notice.HeldMail
			_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) (err error) {
				got, err = tx.TakeHeldMail(ctx, user)
				return err
			})
			require.NoError(t, err)
			return got
		}
		assert.Equal(t, held[:2], take())
		assert.Empty(t, take(), "taken once")

		n, err := r.PurgeHeldMail(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Zero(t, n, "not expired before its time")
		n, err = r.PurgeHeldMail(ctx, t0.Add(time.Hour+time.Microsecond))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
	})

	t.Run("held mail of a user the directory knows by now is released once, by one pass", func(t *testing.T) {
		// A registration committed while a booking held its mail (or one
		// applied by an instance that takes no held mail) leaves the mail
		// of a known user held: the passes release it, each mail once.
		r := newRepo(t)
		known, unknown := ids.New(), ids.New()
		var held []notice.HeldMail
		_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			for i := range 12 {
				h := notice.HeldMail{ID: ids.New(), UserID: known, Kind: notice.SlotOffered, Data: []byte(`{}`),
					ExpiresAt: t0.Add(time.Hour), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
				if i%3 == 2 {
					h.UserID = unknown
				}
				if err := tx.HoldMail(ctx, h); err != nil {
					return err
				}
				if h.UserID == known {
					held = append(held, h)
				}
			}
			return tx.PutUser(ctx, notice.User{ID: known, Email: "ada@example.org", Role: "PATIENT", Language: "de"})
		})
		require.NoError(t, err)

		var mu sync.Mutex
		var released []notice.HeldMail
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := r.ReleaseHeldMail(ctx, 2, func(ctx context.Context, tx service.Tx, u notice.User, got []notice.HeldMail) error {
						if u != (notice.User{ID: known, Email: "ada@example.org", Role: "PATIENT", Language: "de"}) {
							return fmt.Errorf("released for %+v", u)
						}
						mu.Lock()
						released = append(released, got...)
						mu.Unlock()
						return nil
					})
					if !assert.NoError(t, err) || n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		assert.ElementsMatch(t, held, released, "every mail of the known user, once")

		_, err = r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			got, err := tx.TakeHeldMail(ctx, unknown)
			assert.Len(t, got, 4, "the unknown user's mails wait for their registration")
			return err
		})
		require.NoError(t, err)
	})

	t.Run("a slot offer whose claim is purged is recorded first, as long as its slot may lie ahead", func(t *testing.T) {
		r := newRepo(t)
		offer, err := events.New(service.TypeSlotFreed, 1, "a", nil, t0)
		require.NoError(t, err)
		// Claimed alone, as an older instance, or one before slot offers
		// were recorded, leaves it.
		_, err = r.Apply(ctx, offer, t0, func(context.Context, service.Tx) error { return nil })
		require.NoError(t, err)
		before := t0.Add(time.Second)
		n, err := r.PurgeInbox(ctx, before)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		n, err = r.PurgeInbox(ctx, before)
		require.NoError(t, err)
		assert.Zero(t, n)

		n, err = r.PurgeSlotOffers(ctx, before.Add(365*24*time.Hour))
		require.NoError(t, err)
		assert.Zero(t, n, "kept while its slot may lie ahead")
		_, err = r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) error {
			first, err := tx.RecordSlotOffer(ctx, offer.ID, t0.Add(24*time.Hour))
			assert.False(t, first, "recorded when its claim went")
			return err
		})
		require.NoError(t, err)
	})

	t.Run("a slot offer is recorded once, until its slot's start", func(t *testing.T) {
		r := newRepo(t)
		offer, start := ids.New(), t0.Add(40*24*time.Hour)
		record := func() bool {
			var first bool
			_, err := r.Apply(ctx, mustEvent(t), t0, func(ctx context.Context, tx service.Tx) (err error) {
				first, err = tx.RecordSlotOffer(ctx, offer, start)
				return err
			})
			require.NoError(t, err)
			return first
		}
		assert.True(t, record())
		assert.False(t, record(), "recorded before")

		n, err := r.PurgeSlotOffers(ctx, start)
		require.NoError(t, err)
		assert.Zero(t, n, "kept until the slot's start")
		n, err = r.PurgeSlotOffers(ctx, start.Add(time.Microsecond))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		assert.True(t, record(), "forgotten once its slot began")
	})

	t.Run("preferences default, then change by version", func(t *testing.T) {
		r := newRepo(t)
		u := ids.New()
		p, err := r.Preferences(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, notice.DefaultPreferences(u), p)
		p.Email, p.UpdatedAt = false, t0
		saved, err := r.SavePreferences(ctx, p, 1)
		require.NoError(t, err)
		assert.Equal(t, int64(2), saved.Version)
		_, err = r.SavePreferences(ctx, p, 1)
		assert.ErrorIs(t, err, notice.ErrPreferencesChanged)
		p.Reminders = false
		saved, err = r.SavePreferences(ctx, p, 2)
		require.NoError(t, err)
		got, err := r.Preferences(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, saved, got)
		assert.False(t, got.Email)
		assert.False(t, got.Reminders)
		assert.True(t, got.InApp)
	})
}

func mustEvent(t *testing.T) events.Event {
	ev, err := events.New("appointment.booked", 1, "a", nil, t0)
	require.NoError(t, err)
	return ev
}
