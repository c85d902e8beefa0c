// Command records-load measures the records service binary on loopback, on
// MariaDB and an S3 server: upload and download throughput of 1 MB (one at
// a time and many at once) and 100 MB documents through the service
// against a direct S3 client moving the same bytes (the ceiling), downloads
// also through a presigned link and through a bare relay, a second process
// of this tool that only copies bytes from S3, which shows what any
// process in the path costs; the service's resident memory during parallel
// 100 MB uploads (VmRSS sampled, VmHWM at the end, from /proc); and latency
// percentiles of an encounter list with 100,000 notes seeded in the
// database (once; later runs reuse them). It serves a JWKS and a patient
// directory of its own, so no other service runs.
package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	recordsvc "github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/loadkit"
	"github.com/medisync/medisync/shared/server"
	"github.com/medisync/medisync/shared/sqldb"
)

type options struct {
	bin, server, database, addr, logLevel   string
	s3Endpoint, s3Access, s3Secret, bucket  string
	partBuffers                             string
	receiveBuffer                           int
	notes, patients                         int
	smallRounds, largeRounds, parallel      int
	smallSize                               int
	streams, streamRounds                   int
	relayAddr                               string
	serveRelay                              bool
	listClients                             int
	listDuration, warmup                    time.Duration
	skipThroughput, skipMemory, skipListing bool
}

const (
	mb    = 1_000_000
	small = 1 * mb
	large = 100 * mb
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/records", "records binary to start")
	flag.StringVar(&o.server, "mysql", "medisync:medisync@tcp(127.0.0.1:3306)/", "MariaDB server DSN, without database")
	flag.StringVar(&o.database, "database", "medisync_records_load", "database to seed and serve (created when missing)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:18085", "address the binary listens on (loopback)")
	flag.StringVar(&o.logLevel, "log-level", "info", "log level of the binary")
	flag.StringVar(&o.s3Endpoint, "s3-endpoint", "http://127.0.0.1:7070", "S3 server (scripts/s3-up.sh)")
	flag.StringVar(&o.s3Access, "s3-access-key", "medisync", "S3 access key")
	flag.StringVar(&o.s3Secret, "s3-secret-key", "medisync-secret", "S3 secret key")
	flag.StringVar(&o.bucket, "bucket", "medisync-records-load", "prefix of the run's bucket (the service's and the direct copies'), removed with its objects at the end; with -serve-relay, the bucket itself")
	flag.StringVar(&o.partBuffers, "part-buffers", "", "the binary's -s3-part-buffers; empty keeps its default")
	flag.IntVar(&o.receiveBuffer, "s3-receive-buffer", 0, "fixed receive buffer of every S3 connection, the binary's (-s3-receive-buffer), the direct client's and the bare relay's alike, so that the ceiling is measured as the service is tuned; 0 keeps the kernel's autotuning")
	flag.IntVar(&o.notes, "notes", 100_000, "encounter notes in the database")
	flag.IntVar(&o.patients, "patients", 1_000, "patients the notes are spread over")
	flag.IntVar(&o.smallRounds, "small-rounds", 200, "1 MB files moved each way, one at a time")
	flag.IntVar(&o.smallSize, "small-size", small, "bytes of each file of the two 1 MB phases; a few KB (-small-size 1000) shows what a request costs apart from its bytes, and is not judged")
	flag.IntVar(&o.streams, "streams", 16, "1 MB files moved at once, each way, in the second 1 MB phase")
	flag.IntVar(&o.streamRounds, "stream-rounds", 30, "rounds of -streams 1 MB files moved at once, each way")
	flag.IntVar(&o.largeRounds, "large-rounds", 5, "100 MB files moved each way, one at a time")
	flag.IntVar(&o.parallel, "parallel", 10, "parallel 100 MB uploads of the memory phase")
	flag.StringVar(&o.relayAddr, "relay-addr", "127.0.0.1:18086", "address of the bare relay, a process of this tool that streams objects from S3 with no check, database or audit (loopback)")
	flag.BoolVar(&o.serveRelay, "serve-relay", false, "be the bare relay at -relay-addr for the bucket -bucket, and nothing else (the tool starts it)")
	flag.IntVar(&o.listClients, "list-clients", 4, "concurrent clients listing encounters")
	flag.DurationVar(&o.listDuration, "list-duration", 10*time.Second, "how long to drive encounter lists")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before the list phase")
	flag.BoolVar(&o.skipThroughput, "skip-throughput", false, "skip the throughput phase")
	flag.BoolVar(&o.skipMemory, "skip-memory", false, "skip the memory phase")
	flag.BoolVar(&o.skipListing, "skip-list", false, "skip the encounter list phase")
	flag.Parse()
	do := run
	if o.serveRelay {
		do = serveRelay
		if v, ok := os.LookupEnv(relaySecretEnv); ok {
			o.s3Secret = v
		}
	}
	if err := do(o); err != nil {
		fmt.Fprintln(os.Stderr, "records-load:", err)
		os.Exit(1)
	}
}

// seedDoctor authors every seeded note, so its token reads every patient.
const seedDoctor = "0190a0a0-0000-7000-8000-00000000d0c1"

func run(o options) error {
	if host, _, err := net.SplitHostPort(o.addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return errors.New("-addr must be a loopback address")
	}
	if host, _, err := net.SplitHostPort(o.relayAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		return errors.New("-relay-addr must be a loopback address")
	}
	if o.smallSize < 16 || o.smallSize > 50*mb {
		return errors.New("-small-size must be 16 bytes to 50 MB (the service's default limit)")
	}
	if !validName.MatchString(o.database) {
		return errors.New("-database must be lower-case letters, digits and _")
	}
	ctx := context.Background()

	// Database: created, migrated and seeded once.
	admin, err := sqldb.Open(ctx, "mysql://"+o.server+"?parseTime=true")
	if err != nil {
		return fmt.Errorf("MariaDB (run scripts/mariadb-up.sh): %w", err)
	}
	_, err = admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+o.database+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	_ = admin.Close()
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	dsn := "mysql://" + o.server + o.database + "?parseTime=true"
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, sqlstore.Migrations()); err != nil {
		return err
	}
	start := time.Now()
	patients, seeded, err := seed(ctx, db, o.notes, o.patients)
	if err != nil {
		return err
	}
	if seeded {
		fmt.Printf("encounters: %d over %d patients seeded in %s\n", o.notes, len(patients), time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Printf("encounters: %d over %d patients (reused)\n", o.notes, len(patients))
	}

	// Keys and the patient directory: the binary trusts both.
	minter, err := loadkit.NewMinter()
	if err != nil {
		return err
	}
	jwksURL, stopJWKS, err := minter.ServeJWKS()
	if err != nil {
		return err
	}
	defer stopJWKS()
	dirURL, stopDir, err := serveDirectory()
	if err != nil {
		return err
	}
	defer stopDir()

	// One pool of S3 connections for the direct client and the presigned
	// links' GETs: both are S3 as a client next to the service sees it.
	s3hc := directHTTPClient(o.receiveBuffer)
	direct := s3Client(o, s3hc)
	// A bucket of this run's own, emptied and removed at the end: the
	// service never deletes documents, and each run uploads gigabytes.
	o.bucket += "-" + strconv.FormatInt(time.Now().Unix(), 36)
	if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &o.bucket}); err != nil {
		return fmt.Errorf("S3 bucket (run scripts/s3-up.sh): %w", err)
	}
	defer removeBucket(direct, o.bucket)

	// The binary under test.
	logFile, err := os.CreateTemp("", "records-load-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(o.bin)
	cmd.Env = append(os.Environ(),
		"MEDISYNC_HTTP_ADDR="+o.addr, "MEDISYNC_DB_DSN="+dsn, "MEDISYNC_JWKS_URL="+jwksURL,
		"MEDISYNC_DISCOVERY_URLS=", "MEDISYNC_LOG_LEVEL="+o.logLevel, "MEDISYNC_PATIENT_URL="+dirURL,
		"MEDISYNC_BLOB_STORE=s3", "MEDISYNC_S3_ENDPOINT="+o.s3Endpoint, "MEDISYNC_S3_BUCKET="+o.bucket,
		"MEDISYNC_S3_ACCESS_KEY="+o.s3Access, "MEDISYNC_S3_SECRET_KEY="+o.s3Secret, "MEDISYNC_S3_SSE=none", // versitygw has none
		"MEDISYNC_MAX_DOCUMENT_BYTES="+strconv.Itoa(128<<20), "MEDISYNC_DOCTORS_READ_ALL=true",
		// One token makes every upload, up to -streams and -parallel at once.
		"MEDISYNC_MAX_UPLOADS_PER_USER="+strconv.Itoa(max(o.streams, o.parallel)),
		"MEDISYNC_S3_RECEIVE_BUFFER="+strconv.Itoa(o.receiveBuffer))
	if o.partBuffers != "" {
		cmd.Env = append(cmd.Env, "MEDISYNC_S3_PART_BUFFERS="+o.partBuffers)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	bin, err := loadkit.Start(ctx, "records", cmd, o.addr)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, logFile.Name())
	}
	defer bin.Stop()
	base := "http://" + o.addr + "/api/v1/records"
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}
	fmt.Printf("binary: %s on %s, pid %d, S3 %s, log level %s (log: %s)\n", o.bin, o.addr, bin.PID(), o.s3Endpoint, o.logLevel, logFile.Name())
	rss, _ := memory(bin.PID())
	fmt.Printf("memory at start: VmRSS %.1f MB\n", rss.rss)

	token, err := minter.Sign(loadkit.Claims{UserID: seedDoctor, Roles: []string{authn.RoleDoctor}})
	if err != nil {
		return err
	}
	svc := &service{hc: client, s3: s3hc, base: base, token: "Bearer " + token}
	failed := false

	// Memory first, so that VmHWM is the peak of this phase and of startup.
	if !o.skipMemory {
		ok, err := memoryPhase(svc, bin.PID(), patients[0], o.parallel)
		if err != nil {
			return err
		}
		failed = failed || !ok
	}
	if !o.skipThroughput {
		relay, err := startRelay(ctx, o)
		if err != nil {
			return err
		}
		defer relay.Stop()
		a := arms{svc: svc, direct: direct, relay: "http://" + o.relayAddr + "/objects/", bucket: o.bucket, patientID: patients[1]}
		for _, c := range []struct{ size, rounds, streams int }{
			{o.smallSize, o.smallRounds, 1}, {o.smallSize, o.streamRounds, o.streams}, {large, o.largeRounds, 1},
		} {
			ok, err := a.throughput(ctx, c.size, c.rounds, c.streams)
			if err != nil {
				return err
			}
			failed = failed || !ok
		}
		if err := relay.Stop(); err != nil {
			return fmt.Errorf("bare relay exited with %w", err)
		}
	}
	if !o.skipListing {
		res := listPhase(svc, patients, o.listClients, o.warmup, o.listDuration)
		fmt.Println(res.Line(fmt.Sprintf("GET /encounters (%d notes, %d clients)", o.notes, o.listClients)))
		verdict(res.P99 < 20*time.Millisecond, "encounter list p99 %.2f ms (target < 20 ms)", loadkit.Ms(res.P99))
		if res.FirstErr != nil || res.Errors > 0 {
			return fmt.Errorf("%d list requests failed: %v", res.Errors, res.FirstErr)
		}
		failed = failed || res.P99 >= 20*time.Millisecond
	}
	if err := bin.Stop(); err != nil {
		return fmt.Errorf("binary exited with %w (log: %s)", err, logFile.Name())
	}
	if failed {
		return errors.New("a target was missed")
	}
	return nil
}

func verdict(ok bool, format string, args ...any) {
	mark := "ok  "
	if !ok {
		mark = "MISS"
	}
	fmt.Printf("%s %s\n", mark, fmt.Sprintf(format, args...))
}

// service is the records API as the load drives it.
type service struct {
	hc    *http.Client
	s3    *http.Client // for presigned links: S3 itself, as the direct client sees it
	base  string
	token string
}

// upload stores data as a PDF of the patient and returns its id.
func (s *service) upload(patientID string, data []byte) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.base+"/patients/"+patientID+"/documents?title=load&type=report", bytes.NewReader(data))
	req.Header.Set("Authorization", s.token)
	req.Header.Set("Content-Type", "application/pdf")
	res, err := s.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("upload: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("upload: status %d: %s", res.StatusCode, body)
	}
	m := idField.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("upload: no id in %s", body)
	}
	return string(m[1]), nil
}

var idField = regexp.MustCompile(`"id"\s*:\s*"([0-9a-f-]{36})"`)

// download reads a document's content and returns its length.
func (s *service) download(patientID, id string) (int64, error) {
	return fetch(s.hc, s.base+"/patients/"+patientID+"/documents/"+id+"/content", s.token)
}

// viaLink asks the service for a presigned link to a document's content
// and reads the content from it, returning its length.
func (s *service) viaLink(patientID, id string) (int64, error) {
	req, _ := http.NewRequest(http.MethodPost, s.base+"/patients/"+patientID+"/documents/"+id+"/link", nil)
	req.Header.Set("Authorization", s.token)
	res, err := s.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("link: %w", err)
	}
	defer res.Body.Close()
	var l struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&l); err != nil || res.StatusCode != http.StatusOK || l.URL == "" {
		return 0, fmt.Errorf("link: status %d: %v", res.StatusCode, err)
	}
	return fetch(s.s3, l.URL, "")
}

// fetch GETs url with hc, the token when not empty, and returns the
// length of a 200 answer's body.
func fetch(hc *http.Client, url, token string) (int64, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("get: status %d", res.StatusCode)
	}
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		return n, fmt.Errorf("get: %w", err)
	}
	return n, nil
}

// pdf returns size random bytes that start as a PDF does.
func pdf(size int) []byte {
	b := make([]byte, size)
	_, _ = crand.Read(b)
	copy(b, "%PDF-1.7\n")
	return b
}

// arms move the throughput phase's bytes: through the service, directly to
// and from S3 (the ceiling), and, for downloads, also through a presigned
// link the service mints and through the bare relay, which shows what a
// second process in the path costs before the service does any work of
// its own.
type arms struct {
	svc               *service
	direct            *s3.Client
	relay             string // URL prefix of an object key
	bucket, patientID string
}

// throughput moves rounds times streams files of size each way, streams at
// once, and compares MB/s: the service's against the direct client's, and
// the link's and the bare relay's downloads against the direct client's.
// The ways take turns going first, round by round, so that the machine's
// noise and any warmth left by the last request fall on all alike. A
// round uploads its files, then downloads them, each phase timed from its
// first request to its last answer.
func (a arms) throughput(ctx context.Context, size, rounds, streams int) (bool, error) {
	if rounds <= 0 || streams <= 0 {
		return true, nil
	}
	data := pdf(size)
	var svcUp, svcDown, linkDown, s3Up, s3Down, relayDown time.Duration
	viaS3 := func(i int) error {
		d, err := together(streams, func(j int) error {
			k := directKey(i, j)
			if _, err := a.direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &a.bucket, Key: &k, Body: bytes.NewReader(data)}); err != nil {
				return fmt.Errorf("direct put: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		s3Up += d
		d, err = together(streams, func(j int) error {
			k := directKey(i, j)
			out, err := a.direct.GetObject(ctx, &s3.GetObjectInput{Bucket: &a.bucket, Key: &k})
			if err != nil {
				return fmt.Errorf("direct get: %w", err)
			}
			n, err := io.Copy(io.Discard, out.Body)
			_ = out.Body.Close()
			if err != nil || n != int64(size) {
				return fmt.Errorf("direct get: %d bytes: %v", n, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		s3Down += d
		return nil
	}
	// The direct copies are removed after both ways of a round, so that
	// versitygw unlinking them does not slow the other way's transfers.
	removeDirect := func(i int) {
		for j := range streams {
			k := directKey(i, j)
			_, _ = a.direct.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &a.bucket, Key: &k})
		}
	}
	viaService := func(i int) error {
		ids := make([]string, streams)
		d, err := together(streams, func(j int) error {
			var err error
			ids[j], err = a.svc.upload(a.patientID, data)
			return err
		})
		if err != nil {
			return err
		}
		svcUp += d
		// Downloads of the same files: streamed by the service, through a
		// presigned link it mints, and through the bare relay, which reads
		// the objects under the keys the service gives them. Which goes
		// first turns round by round.
		ways := []struct {
			took *time.Duration
			get  func(id string) (int64, error)
		}{
			{&svcDown, func(id string) (int64, error) { return a.svc.download(a.patientID, id) }},
			{&linkDown, func(id string) (int64, error) { return a.svc.viaLink(a.patientID, id) }},
			{&relayDown, func(id string) (int64, error) { return fetch(a.svc.hc, a.relay+recordsvc.BlobPrefix+id, "") }},
		}
		for k := range ways {
			w := ways[(i+k)%len(ways)]
			d, err := together(streams, func(j int) error {
				if n, err := w.get(ids[j]); err != nil || n != int64(size) {
					return fmt.Errorf("download %d bytes: %v", n, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			*w.took += d
		}
		return nil
	}
	for i := range rounds {
		first, second := func() error { return viaS3(i) }, func() error { return viaService(i) }
		if i%2 == 1 {
			first, second = second, first
		}
		// Before each way the disk is settled, untimed: what the last one
		// wrote, flushed by the kernel later, would otherwise slow this one.
		syscall.Sync()
		if err := first(); err != nil {
			return false, err
		}
		syscall.Sync()
		if err := second(); err != nil {
			return false, err
		}
		removeDirect(i)
	}
	rate := func(d time.Duration) float64 { return float64(size*rounds*streams) / mb / d.Seconds() }
	// each is the mean time of one file's request, one at a time: with small
	// files, what a request costs apart from its bytes.
	each := func(d time.Duration) string {
		if streams > 1 {
			return ""
		}
		return fmt.Sprintf(" (%.2f ms each)", float64(d.Microseconds())/1000/float64(rounds))
	}
	label := sizeLabel(size) + " x " + strconv.Itoa(rounds*streams)
	if streams > 1 {
		label += fmt.Sprintf(", %d at once", streams)
	} else {
		label += ", one at a time"
	}
	upShare, downShare := rate(svcUp)/rate(s3Up), rate(svcDown)/rate(s3Down)
	fmt.Println(label)
	fmt.Printf("  upload    service %8.1f MB/s%s  direct S3 %8.1f MB/s%s  %3.0f%%\n", rate(svcUp), each(svcUp), rate(s3Up), each(s3Up), 100*upShare)
	fmt.Printf("  download  service %8.1f MB/s%s  direct S3 %8.1f MB/s%s  %3.0f%%\n", rate(svcDown), each(svcDown), rate(s3Down), each(s3Down), 100*downShare)
	fmt.Printf("            bare relay %5.1f MB/s%s  %3.0f%% of direct; the service at %.0f%% of it\n",
		rate(relayDown), each(relayDown), 100*rate(relayDown)/rate(s3Down), 100*rate(svcDown)/rate(relayDown))
	fmt.Printf("            presigned link, then GET %.1f MB/s%s  %3.0f%% of direct\n", rate(linkDown), each(linkDown), 100*rate(linkDown)/rate(s3Down))
	if size != small && size != large {
		fmt.Printf("  not judged: the targets are for %s and %s files\n", sizeLabel(small), sizeLabel(large))
		return true, nil
	}
	verdict(upShare >= 0.7, "%s upload at %.0f%% of direct S3 (target >= 70%%)", label, 100*upShare)
	verdict(downShare >= 0.7, "%s download at %.0f%% of direct S3 (target >= 70%%)", label, 100*downShare)
	return upShare >= 0.7 && downShare >= 0.7, nil
}

// sizeLabel writes n bytes in the largest decimal unit that divides it.
func sizeLabel(n int) string {
	switch {
	case n%mb == 0:
		return strconv.Itoa(n/mb) + " MB"
	case n%1000 == 0:
		return strconv.Itoa(n/1000) + " KB"
	}
	return strconv.Itoa(n) + " B"
}

// directKey names the direct client's copy j of round i.
func directKey(i, j int) string { return "load/direct-" + strconv.Itoa(i) + "-" + strconv.Itoa(j) }

// together runs f(0) to f(n-1) at once and returns how long they took
// together.
func together(n int, f func(j int) error) (time.Duration, error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	t := time.Now()
	for j := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[j] = f(j)
		}()
	}
	wg.Wait()
	return time.Since(t), errors.Join(errs...)
}

// relaySecretEnv passes the S3 secret key to the bare relay.
const relaySecretEnv = "RECORDS_LOAD_S3_SECRET_KEY"

// startRelay starts this tool again as the bare relay.
func startRelay(ctx context.Context, o options) (*loadkit.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bare relay: %w", err)
	}
	cmd := exec.Command(self, "-serve-relay", "-relay-addr", o.relayAddr, "-bucket", o.bucket, "-s3-endpoint", o.s3Endpoint,
		"-s3-access-key", o.s3Access, "-s3-receive-buffer", strconv.Itoa(o.receiveBuffer))
	// The secret goes in the environment, which other users cannot read.
	cmd.Env = append(os.Environ(), relaySecretEnv+"="+o.s3Secret)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return loadkit.Start(ctx, "bare relay", cmd, o.relayAddr)
}

// serveRelay streams objects of the bucket from S3 at GET /objects/{key},
// with the S3 client and the copy the records service uses, and nothing
// else: no token, no database, no audit. What it loses against the direct
// client is what any process between the client and S3 costs.
func serveRelay(o options) error {
	c := s3Client(o, directHTTPClient(o.receiveBuffer))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /objects/{key...}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		out, err := c.GetObject(r.Context(), &s3.GetObjectInput{Bucket: &o.bucket, Key: &key})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer out.Body.Close()
		if out.ContentLength != nil {
			w.Header().Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
		}
		// The service copies in chunks of this size too (transport.copyBufferSize).
		_, _ = io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{out.Body}, make([]byte, 256<<10))
	})
	srv := &http.Server{Addr: o.relayAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	drained := make(chan struct{})
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
		close(drained)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bare relay: %w", err)
	}
	<-drained
	return nil
}

// s3Client is the direct client and the bare relay's: the SDK with the
// settings the service gives it (records/adapter/blobs3).
func s3Client(o options, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(o.s3Access, o.s3Secret, ""),
		BaseEndpoint: aws.String(o.s3Endpoint), UsePathStyle: true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           2,
		HTTPClient:                 hc,
	})
}

// memoryPhase uploads parallel 100 MB files at once while sampling the
// service's resident memory.
func memoryPhase(svc *service, pid int, patientID string, parallel int) (bool, error) {
	data := pdf(large) // one buffer shared by every client: the load's own memory stays flat
	var peakRSS atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := memory(pid); err == nil && int64(m.rss*1000) > peakRSS.Load() {
				peakRSS.Store(int64(m.rss * 1000))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, parallel)
	for i := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.upload(patientID, data)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(done)
	<-sampled
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	m, err := memory(pid)
	if err != nil {
		return false, err
	}
	peak := float64(peakRSS.Load()) / 1000
	fmt.Printf("%d parallel 100 MB uploads in %s (%.1f MB/s together): peak VmRSS %.1f MB, VmHWM %.1f MB\n",
		parallel, elapsed.Round(time.Millisecond), float64(parallel*large)/mb/elapsed.Seconds(), peak, m.hwm)
	verdict(m.hwm < 100, "resident memory peak (VmHWM) %.1f MB (target < 100 MB)", m.hwm)
	return m.hwm < 100, nil
}

type mem struct{ rss, hwm float64 } // MB (10^6 bytes)

// memory reads VmRSS and VmHWM of the process from /proc.
func memory(pid int) (mem, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return mem{}, fmt.Errorf("read memory: %w", err)
	}
	var m mem
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb * 1024 / mb
		case "VmHWM:":
			m.hwm = kb * 1024 / mb
		}
	}
	return m, nil
}

// listPhase drives the first page of random patients' encounter lists.
// Every patient's page is read once before any clock runs, so that a
// database started cold (its buffer pool empty) is measured warm, as a
// clinic's running one is; then the warm-up runs, unmeasured.
func listPhase(svc *service, patients []string, clients int, warmup, d time.Duration) loadkit.Summary {
	list := func(patientID string) error {
		_, err := fetch(svc.hc, svc.base+"/patients/"+patientID+"/encounters", svc.token)
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(patients)); i = next.Add(1) - 1 {
				_ = list(patients[i])
			}
		}()
	}
	wg.Wait()

	rec := loadkit.NewRecorder()
	begin := time.Now()
	measureFrom, end := begin.Add(warmup), begin.Add(warmup+d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			var lat []time.Duration
			var errs int64
			var first error
			for {
				t := time.Now()
				if t.After(end) {
					break
				}
				err := list(patients[rng.IntN(len(patients))])
				if t.Before(measureFrom) {
					continue
				}
				lat = append(lat, time.Since(t))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			rec.Merge(lat, errs, first)
		}()
	}
	wg.Wait()
	s := rec.Summary()
	// Requests per second over the measured time only, not the warm-up.
	s.Elapsed = time.Since(measureFrom)
	return s
}

// serveDirectory answers GET /api/v1/patients/{id} as the patient service
// does for a doctor who may see every patient.
func serveDirectory() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("directory listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/patients/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !ids.Valid(id) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"userId":null,"active":true}`, strings.ToLower(id))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// seed inserts notes signed encounters spread evenly over patients, in
// multi-row INSERTs, unless the database already holds that many; it
// returns the patients' ids.
func seed(ctx context.Context, db *sqldb.DB, notes, patients int) ([]string, bool, error) {
	var have int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM encounters").Scan(&have); err != nil {
		return nil, false, fmt.Errorf("count encounters: %w", err)
	}
	if have >= notes {
		rows, err := db.QueryContext(ctx, "SELECT DISTINCT patient_id FROM encounters")
		if err != nil {
			return nil, false, fmt.Errorf("list patients: %w", err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, false, err
			}
			out = append(out, id)
		}
		return out, false, rows.Err()
	}
	if have > 0 {
		return nil, false, fmt.Errorf("database holds %d encounters, fewer than %d: drop it and run again", have, notes)
	}
	pids := make([]string, patients)
	for i := range pids {
		pids[i] = ids.New()
	}
	const batch = 500
	cols := "(id, version, patient_id, doctor_id, status, appointment_id, subjective, objective, assessment, plan, " +
		"diagnoses, prescriptions, created_at, updated_at, signed_at, error_reason)"
	row := "(?, 1, ?, ?, 'signed', '', ?, ?, ?, ?, ?, '[]', ?, ?, ?, '')"
	at := time.Now().UTC().Add(-time.Duration(notes) * time.Minute)
	for from := 0; from < notes; from += batch {
		n := min(batch, notes-from)
		var args []any
		for i := range n {
			k := from + i
			when := at.Add(time.Duration(k) * time.Minute)
			args = append(args, ids.New(), pids[k%patients], seedDoctor,
				"Cough for three days, no fever.", "Chest clear, temperature 36.9 C.", "Viral upper respiratory infection.",
				"Fluids, rest; come back if short of breath.", `[{"display":"Acute upper respiratory infection"}]`,
				when, when, when)
		}
		vals := strings.TrimSuffix(strings.Repeat(row+",", n), ",")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO encounters "+cols+" VALUES "+vals, args...); err != nil {
				return fmt.Errorf("seed encounters: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO encounter_revisions (encounter_id, version, patient_id, doctor_id, status, appointment_id, "+
				"subjective, objective, assessment, plan, diagnoses, prescriptions, created_at, updated_at, signed_at, error_reason) "+
				"SELECT id, version, patient_id, doctor_id, status, appointment_id, subjective, objective, assessment, plan, "+
				"diagnoses, prescriptions, created_at, updated_at, signed_at, error_reason FROM encounters e "+
				"WHERE NOT EXISTS (SELECT 1 FROM encounter_revisions r WHERE r.encounter_id = e.id) AND e.id IN ("+
				strings.TrimSuffix(strings.Repeat("?,", n), ",")+")", idsOf(args, n)...); err != nil {
				return fmt.Errorf("seed revisions: %w", err)
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE encounters"); err != nil {
		return nil, false, fmt.Errorf("analyze: %w", err)
	}
	return pids, true, nil
}

// idsOf picks the encounter ids out of a batch's arguments (11 a row).
func idsOf(args []any, n int) []any {
	out := make([]any, 0, n)
	for i := range n {
		out = append(out, args[i*11])
	}
	return out
}

// removeBucket deletes every object of bucket, then the bucket.
func removeBucket(c *s3.Client, bucket string) {
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "records-load: list bucket %s: %v\n", bucket, err)
			return
		}
		for _, obj := range page.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: obj.Key})
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		fmt.Fprintf(os.Stderr, "records-load: remove bucket %s: %v\n", bucket, err)
	}
}

// validName is a database name MariaDB takes unquoted.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// directHTTPClient is the direct client's, the presigned links' and the
// bare relay's: the transport the service gives its S3 client, with the
// same receive buffer, so that the ceiling gains what the service gains
// from it. (Go's default transport keeps two idle connections per host:
// with transfers at once, it would open new ones all the time.)
func directHTTPClient(receiveBuffer int) *http.Client {
	tr := server.NewTransport()
	tr.DialContext = blobs3.WithReceiveBuffer(tr.DialContext, receiveBuffer)
	return server.NewHTTPClientOver(0, tr)
}
