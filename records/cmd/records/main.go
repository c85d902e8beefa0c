// Command records serves patients' clinical encounters and documents, with
// the audit trail of every access to them (see ../../README.md).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/records/adapter/appointmentdir"
	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/adapter/patientdir"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/endpoint"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/peerhttp"
	"github.com/medisync/medisync/shared/server"
)

// transferTimeout bounds an upload or a download, the longest requests.
const transferTimeout = 50 * time.Second

// s3RecheckEvery is how often the encryption of an S3 server that did not
// answer the check at start is checked again; s3RecheckLogEvery how often
// checks that keep failing are logged, after the first.
const (
	s3RecheckEvery    = 10 * time.Second
	s3RecheckLogEvery = 5 * time.Minute
)

// minSweepGrace is the least age at which the sweeper may take an object
// without metadata, or an unfinished upload, for an orphan: twice the
// longest upload.
const minSweepGrace = 2 * transferTimeout

func main() { app.Main("records", run) }

type settings struct {
	audit           auditlog.Options
	blobStore       string
	blobDir         string
	masterKey       string
	s3              blobs3.Config
	s3ReceiveBuffer int
	s3StartTimeout  time.Duration
	maxBytes        int64
	linkTTL         time.Duration
	maxUploads      int
	doctorsReadAll  bool
	patientURL      string
	appointmentURL  string
	sweepEvery      time.Duration
	sweepGrace      time.Duration
}

// uploadCeiling bounds any request body before the routes' own limits
// (JSON bodies 1 MiB, documents -max-document-bytes) apply.
const uploadCeiling = 5 << 30

func run(ctx context.Context, args []string) error {
	var c settings
	a, err := appdb.New(ctx, app.Options{
		Name:         "records",
		DefaultAddr:  ":8085",
		DefaultDSN:   "sqlite:data/records.db",
		Migrations:   sqlstore.Migrations(),
		MaxBodyBytes: uploadCeiling,
		// Uploads and downloads of large files take longer than a JSON call;
		// below the gateway's longest route timeout. An upload's body may
		// take the whole request deadline to arrive, and the server's read
		// timeout would otherwise cut it sooner. The transport shortens every
		// other route's to httpmw.DefaultTimeout, below the gateway's 15 s.
		RequestTimeout: transferTimeout,
		ReadTimeout:    transferTimeout,
		WriteTimeout:   55 * time.Second,
		// A signed encounter's event goes to the outbox; the relay publishes it.
		Outbox: true,
		Flags: func(fs *flag.FlagSet) {
			fs.IntVar(&c.audit.MaxBatch, "audit-max-batch", 256, "most audit events written in one INSERT")
			fs.IntVar(&c.audit.Writers, "audit-writers", 2, "concurrent audit INSERTs")
			fs.StringVar(&c.blobStore, "blob-store", "fs", "where document content lives: fs (encrypted files) or s3")
			fs.StringVar(&c.blobDir, "blob-dir", "data/blobs", "folder of the fs blob store")
			fs.StringVar(&c.masterKey, "blob-master-key", "", "base64 of the 32-byte key sealing the fs store's data keys (kept in <blob-dir>.key when empty)")
			fs.StringVar(&c.s3.Endpoint, "s3-endpoint", "", "S3 endpoint URL; empty for AWS")
			fs.StringVar(&c.s3.PublicEndpoint, "s3-public-endpoint", "", "S3 endpoint URL the presigned document links name, as clients reach the server; empty for -s3-endpoint")
			fs.StringVar(&c.s3.Region, "s3-region", "us-east-1", "S3 region")
			fs.StringVar(&c.s3.Bucket, "s3-bucket", "medisync-records", "S3 bucket")
			fs.StringVar(&c.s3.AccessKey, "s3-access-key", "", "S3 access key")
			fs.StringVar(&c.s3.SecretKey, "s3-secret-key", "", "S3 secret key")
			fs.BoolVar(&c.s3.PathStyle, "s3-path-style", true, "address the bucket in the path")
			fs.IntVar(&c.s3.PartBuffers, "s3-part-buffers", 8, "5 MiB part buffers all S3 uploads together hold at most (bounds upload memory)")
			fs.IntVar(&c.s3ReceiveBuffer, "s3-receive-buffer", 0, "fixed receive buffer in bytes of each connection to S3, for servers that close the connection after every answer; 0 keeps the kernel's autotuning")
			fs.DurationVar(&c.s3StartTimeout, "s3-start-timeout", 5*time.Second, "how long the start waits for S3 (bucket, encryption check) before serving without document content until a later check passes")
			fs.StringVar(&c.s3.SSE, "s3-sse", "AES256", "server-side encryption of every object: AES256, aws:kms, or none for a server that has none (the content is then stored in the clear)")
			fs.Int64Var(&c.maxBytes, "max-document-bytes", service.DefaultMaxDocumentBytes, "largest document accepted")
			fs.DurationVar(&c.linkTTL, "link-ttl", service.DefaultLinkTTL, "lifetime of a presigned download URL")
			fs.IntVar(&c.maxUploads, "max-uploads-per-user", service.DefaultMaxUploadsPerUser, "uploads one user may have in flight at once (each holds a part buffer while its bytes arrive)")
			fs.BoolVar(&c.doctorsReadAll, "doctors-read-all", false, "clinic policy: every doctor reads every patient's records")
			fs.StringVar(&c.patientURL, "patient-url", "http://patient", "the patient service, by discovery name or address")
			fs.StringVar(&c.appointmentURL, "appointment-url", "http://appointment", "the appointment service, by discovery name or address")
			fs.DurationVar(&c.sweepEvery, "sweep-every", time.Hour, "how often orphan objects are looked for")
			fs.DurationVar(&c.sweepGrace, "sweep-grace", time.Hour, "age before an object without metadata, or an unfinished upload, counts as an orphan")
		},
	}, args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	fail := func(err error) error { _ = a.Close(); return err }
	if c.s3StartTimeout <= 0 {
		return fail(fmt.Errorf("-s3-start-timeout %s: must be positive, or no check of S3 could pass", c.s3StartTimeout))
	}
	if e := c.s3.PublicEndpoint; e != "" {
		// Clients follow the links themselves: a relative or scheme-less
		// endpoint would sign links no client can open.
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail(fmt.Errorf("-s3-public-endpoint %q: must be an http:// or https:// URL with a host", e))
		}
	}
	if c.sweepEvery <= 0 {
		return fail(fmt.Errorf("-sweep-every %s: must be positive; the sweeper cannot be turned off, as only it removes what crashed uploads leave", c.sweepEvery))
	}
	if c.sweepGrace < minSweepGrace {
		return fail(fmt.Errorf("-sweep-grace %s: at least %s, longer than an upload may take, or the sweeper would remove uploads in progress", c.sweepGrace, minSweepGrace))
	}
	verifier, err := a.Verifier(ctx)
	if err != nil {
		return fail(err)
	}
	// Removals of what failed uploads leave run after their answers; the
	// shutdown waits for them within its budget.
	cleanups := service.NewCleanups(0, 0)
	c.s3.Cleanups = cleanups
	blobs, err := openBlobs(ctx, a, c)
	if err != nil {
		return fail(fmt.Errorf("blob store: %w", err))
	}

	store := sqlstore.New(a.DB)
	recorder := auditlog.New[record.AuditEvent](store, c.audit)
	var svc service.Service = service.New(service.Deps{
		Encounters: store, Documents: store, Audit: store, Recorder: recorder, Blobs: blobs,
		Patients:       patientdir.New(c.patientURL, a.HTTPClient, 10_000, 30*time.Second),
		Appointments:   appointmentdir.New(a.HTTPClient, peerhttp.Options{BaseURL: c.appointmentURL}),
		Clock:          clock.System{},
		DoctorsReadAll: c.doctorsReadAll, MaxDocumentBytes: c.maxBytes, LinkTTL: c.linkTTL, MaxUploadsPerUser: c.maxUploads,
		Cleanups: cleanups,
	})
	svc = service.Middleware(a.Logger, metrics.NewMethod(a.Registry, "records"))(svc)

	sweeper := service.Sweeper{Blobs: blobs, Documents: store, Clock: clock.System{}, Grace: c.sweepGrace}
	stopSweeps := startSweeps(ctx, a.Logger, c.sweepEvery, sweeper.Sweep)

	router := a.Router()
	transport.Register(router, endpoint.New(svc), verifier, transport.Options{MaxDocumentBytes: c.maxBytes, Logger: a.Logger})
	_ = level.Info(a.Logger).Log("msg", "starting", "addr", a.Config.HTTPAddr, "dialect", a.DB.Dialect, "blobStore", c.blobStore)
	// After the drain: the sweeps stop and are waited for before the
	// store closes under them.
	return a.Run(ctx, a.Handler(router),
		stopSweeps,
		cleanups.Close,
		recorder.Close,
		func(context.Context) error { return store.Close() })
}

// startSweeps runs sweep every period on a context of its own, which ends
// after the requests drain rather than with the signal that begins it, as
// notification's mail work and appointment's event consumer do. The hook it returns ends that
// context and waits for a sweep under way, within the shutdown's budget:
// the store must not close under a sweep mid-way.
func startSweeps(ctx context.Context, logger log.Logger, every time.Duration, sweep func(context.Context) (int, error)) server.Hook {
	work := app.NewWork(ctx)
	work.Every(every, func(ctx context.Context) {
		n, err := sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			_ = level.Error(logger).Log("msg", "sweep orphan objects and unfinished uploads", "err", err)
		case n > 0:
			_ = level.Info(logger).Log("msg", "removed orphan objects and unfinished uploads", "count", n)
		}
	})
	return work.Stop
}

// openBlobs opens the configured blob store.
func openBlobs(ctx context.Context, a *appdb.App, c settings) (service.BlobStore, error) {
	switch c.blobStore {
	case "fs":
		key, err := masterKey(c)
		if err != nil {
			return nil, err
		}
		return blobfs.New(c.blobDir, key)
	case "s3":
		switch c.s3.SSE {
		case "AES256", "aws:kms":
		case "none":
			c.s3.SSE = ""
		default:
			return nil, fmt.Errorf("-s3-sse must be AES256, aws:kms or none, not %q", c.s3.SSE)
		}
		tr := server.NewTransport()
		tr.DialContext = blobs3.WithReceiveBuffer(tr.DialContext, c.s3ReceiveBuffer)
		s := blobs3.New(c.s3, server.NewHTTPClientOver(0, tr))
		// A server that takes the encryption header and ignores it would
		// keep documents in the clear: refuse to start on one. Every
		// upload checks it again.
		bucketErr, err := prepareS3(ctx, s, c.s3StartTimeout)
		if bucketErr != nil {
			_ = level.Warn(a.Logger).Log("msg", "bucket not ready", "err", bucketErr)
		}
		// Not a readiness check: encounters, lists and the audit trail serve
		// without the object store, and an instance that is not ready
		// leaves the rotation, so an S3 outage would take them all out.
		// Nor does a server that is down or hangs hold the start: the
		// store moves no content (503) until its encryption is checked,
		// again in the background. A server that answered the check with
		// a refusal (a policy) serves content, each upload checked.
		switch {
		case errors.Is(err, blobs3.ErrNotEncrypted):
			return nil, err
		case errors.Is(err, blobs3.ErrProbeRefused):
			_ = level.Warn(a.Logger).Log("msg", "encryption not checked: the S3 server refused the probe; each upload's answer is checked", "err", err)
		case err != nil:
			_ = level.Warn(a.Logger).Log("msg", "encryption not checked: document content is refused until a check passes", "err", err)
			go recheckS3(ctx, a.Logger, s, s3RecheckEvery, c.s3StartTimeout)
		}
		return s, nil
	}
	return nil, fmt.Errorf("-blob-store must be fs or s3, not %q", c.blobStore)
}

// prepareS3 creates the bucket when absent (development and tests) and
// checks the server's encryption, both within timeout: a server that
// accepts connections and never answers would otherwise hold the caller
// for minutes. It returns the bucket's failure, which does not stop the
// check (a bucket made by an operator may exist unseen), and the check's.
func prepareS3(ctx context.Context, s *blobs3.Store, timeout time.Duration) (bucketErr, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bucketErr = s.EnsureBucket(ctx)
	return bucketErr, s.CheckEncryption(ctx)
}

// recheckS3 checks the server's encryption every period until a check
// passes, or the server answers it with a refusal (ErrProbeRefused), which
// opens the store to content. A server found storing in the clear is
// logged as the error it is; the checks go on, for a server reconfigured
// meanwhile. Checks that find no server are logged at the first and then
// every s3RecheckLogEvery, with how many failed so far (count): one line
// every 10 s through a long outage would bury the others.
func recheckS3(ctx context.Context, logger log.Logger, s *blobs3.Store, every, timeout time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	refused := false
	var failed int
	var logged time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := prepareS3(ctx, s, timeout)
		switch {
		case err == nil:
			_ = level.Info(logger).Log("msg", "encryption checked: document content is served")
			return
		case errors.Is(err, blobs3.ErrProbeRefused):
			_ = level.Warn(logger).Log("msg", "encryption not checked: the S3 server refused the probe; document content is served, each upload's answer checked", "err", err)
			return
		case errors.Is(err, blobs3.ErrNotEncrypted):
			if !refused {
				refused = true
				_ = level.Error(logger).Log("msg", "document content refused: the S3 server does not apply the encryption asked", "err", err)
			}
		case ctx.Err() != nil:
			return
		default:
			failed++
			if logged.IsZero() || time.Since(logged) >= s3RecheckLogEvery {
				logged = time.Now()
				_ = level.Warn(logger).Log("msg", "encryption still not checked: document content is refused until a check passes", "count", failed, "err", err)
			}
		}
	}
}

// masterKey reads -blob-master-key, or for a development machine started
// with no configuration keeps a generated one beside (never inside) the
// blob folder, so that a copy of the folder alone reveals nothing.
func masterKey(c settings) ([]byte, error) {
	if c.masterKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.masterKey)
		if err != nil || len(k) != 32 {
			return nil, errors.New("-blob-master-key must be the base64 of 32 bytes")
		}
		return k, nil
	}
	path := filepath.Clean(c.blobDir) + ".key"
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("%s does not hold the base64 of 32 bytes", path)
		}
		return k, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)), 0o600); err != nil {
		return nil, fmt.Errorf("keep blob master key: %w", err)
	}
	return k, nil
}
