package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// notificationSnapshot is what the store tells of one user.
type notificationSnapshot struct {
	User          notice.User
	Preferences   notice.Preferences
	Notifications []notice.Notification
	Deliveries    []notice.Delivery
	Reminder      notice.Reminder
}

// TestCopyToPostgres fills a MariaDB and a SQLite database through the store
// (an applied event with its user, notification, queued mail and reminder,
// saved preferences), copies each with dbcopy into an empty PostgreSQL
// database migrated from the embedded migrations, and serves the copy: the
// same user, inbox, mail queue and reminder, and the applied event is still
// taken for a redelivery.
func TestCopyToPostgres(t *testing.T) {
	sqltest.EachSource(t, sqlstore.Migrations(), func(t *testing.T, src *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(src)
		now := time.Date(2031, 3, 1, 9, 0, 0, 123456000, time.UTC)
		user := notice.User{ID: ids.New(), Email: "łukasz@example.org", Role: "PATIENT", Language: "pl"}
		appt := ids.New()
		ev, err := events.New("appointment.booked", 1, appt, map[string]string{"appointmentId": appt}, now)
		require.NoError(t, err)
		apply := func(s *sqlstore.Store) (bool, error) {
			return s.Apply(ctx, ev, now, func(ctx context.Context, tx service.Tx) error {
				if err := tx.PutUser(ctx, user); err != nil {
					return err
				}
				if err := tx.AddNotification(ctx, notice.Notification{ID: ids.New(), UserID: user.ID, Kind: notice.AppointmentBooked,
					Title: "Wizyta zarezerwowana", Body: "Dr Wiśniewski, 🩺", CreatedAt: now}); err != nil {
					return err
				}
				if err := tx.QueueMail(ctx, notice.Delivery{ID: ids.New(), UserID: user.ID, Kind: notice.AppointmentBooked,
					Recipient: user.Email, Subject: "Wizyta", Text: "Ból głowy", HTML: "<p>Ból głowy</p>", Status: notice.Queued,
					NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				return tx.PutReminder(ctx, notice.Reminder{AppointmentID: appt, PatientUserID: user.ID, DoctorName: "Łukasz Wiśniewski",
					TimeZone: "Europe/Warsaw", Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour), DueAt: now.Add(24 * time.Hour),
					Status: notice.ReminderPending, Version: 1, UpdatedAt: now})
			})
		}
		fresh, err := apply(st)
		require.NoError(t, err)
		require.True(t, fresh)
		prefs := notice.DefaultPreferences(user.ID)
		prefs.Email, prefs.UpdatedAt = false, now
		_, err = st.SavePreferences(ctx, prefs, 1)
		require.NoError(t, err)

		dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
		require.NoError(t, err)
		t.Cleanup(func() { _ = dst.Close() })
		rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
		require.NoError(t, err)
		require.True(t, rep.OK())
		assert.Empty(t, rep.TargetOnly)

		pg := sqlstore.New(dst)
		read := func(s *sqlstore.Store) notificationSnapshot {
			var snap notificationSnapshot
			var err error
			snap.Preferences, err = s.Preferences(ctx, user.ID)
			require.NoError(t, err)
			inbox, err := s.ListNotifications(ctx, notice.InboxQuery{UserID: user.ID, Limit: 10})
			require.NoError(t, err)
			snap.Notifications = inbox.Items
			mail, err := s.ListDeliveries(ctx, notice.DeliveryQuery{Limit: 10})
			require.NoError(t, err)
			snap.Deliveries = mail.Items
			// The user and the reminder are read inside an event's
			// transaction, as the service reads them: an event of its own,
			// so that fn runs.
			probe, err := events.New("appointment.booked", 1, appt, nil, now)
			require.NoError(t, err)
			_, err = s.Apply(ctx, probe, now, func(ctx context.Context, tx service.Tx) error {
				var ok bool
				if snap.User, ok, err = tx.User(ctx, user.ID); err != nil || !ok {
					return err
				}
				snap.Reminder, _, err = tx.Reminder(ctx, appt)
				return err
			})
			require.NoError(t, err)
			return snap
		}
		want := read(st)
		require.Equal(t, user, want.User)
		require.Equal(t, appt, want.Reminder.AppointmentID)
		require.Len(t, want.Notifications, 1)
		require.Len(t, want.Deliveries, 1)
		assert.Equal(t, want, read(pg))

		fresh, err = apply(pg)
		require.NoError(t, err)
		assert.False(t, fresh, "the copied inbox still knows the event")
	})
}
