package transport

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/shared/problem"
)

//go:embed dashboard.html
var dashboardHTML string

var dashboardTmpl = template.Must(template.New("dashboard").Parse(dashboardHTML))

// DashboardInfo is what the dashboard shows beyond the registry itself.
type DashboardInfo struct {
	// Refresh is how often the page reloads itself; 0 means 5 s.
	Refresh time.Duration
	// Writes is who may write (Writers.Access); empty reads as a token
	// needed.
	Writes    WriteAccess
	Limits    registry.Limits
	ReapEvery time.Duration
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

type dashInstance struct {
	ID            string
	HostPort      string
	Status        string
	StatusClass   string
	LastHeartbeat string
	HeartbeatAgo  string
	LeaseExpires  string
	LeaseIn       string
	LeaseClass    string
	Registered    string
	TTL           string
	Metadata      []dashPair
}

type dashPair struct{ Key, Value string }

type dashService struct {
	Name      string
	Index     uint64
	Up, Total int
	Instances []dashInstance
	// Hidden counts instances left off the page (see maxRowsPerService).
	Hidden int
}

// maxRowsPerService keeps the page light when a service has thousands of
// instances; the counts still cover all of them and the JSON lists them all.
const maxRowsPerService = 200

type dashData struct {
	Refresh       int
	Now           string
	StartedAt     string
	Uptime        string
	Index         uint64
	Services      []dashService
	ServiceCount  int
	InstanceCount int
	// Up, Down and OOS count instances in those statuses; Other counts
	// the STARTING and UNKNOWN ones, which are neither in traffic nor taken
	// out of it by hand.
	Up, Down, OOS, Other int
	Writes               WriteAccess
	DefaultTTL           string
	TTLRange             string
	ReapEvery            string
	MaxWait              string
	HealthyPercent       int
}

// Dashboard renders the registry as an HTML page that reloads itself: each
// service with its instances, their status, address, last heartbeat and
// lease, and the registry's uptime and index, like a Eureka dashboard.
func Dashboard(svc service.Service, info DashboardInfo) http.Handler {
	if info.Refresh <= 0 {
		info.Refresh = 5 * time.Second
	}
	if info.Now == nil {
		info.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.Registry(r.Context(), service.Query{})
		if err != nil {
			problem.WriteError(w, r, err)
			return
		}
		data := buildDashboard(v, info, info.Now().UTC())
		var buf bytes.Buffer
		if err := dashboardTmpl.Execute(&buf, data); err != nil {
			problem.WriteError(w, r, fmt.Errorf("render dashboard: %w", err))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		_, _ = w.Write(buf.Bytes())
	})
}

func buildDashboard(v registry.View, info DashboardInfo, now time.Time) dashData {
	d := dashData{
		Refresh:      int(info.Refresh / time.Second),
		Now:          now.Format(time.RFC3339),
		StartedAt:    v.StartedAt.Format(time.RFC3339),
		Uptime:       human(now.Sub(v.StartedAt)),
		Index:        v.Index,
		ServiceCount: len(v.Services),
		Writes:       info.Writes,
		DefaultTTL:   info.Limits.DefaultTTL.String(),
		TTLRange:     info.Limits.MinTTL.String() + " – " + info.Limits.MaxTTL.String(),
		ReapEvery:    info.ReapEvery.String(),
		MaxWait:      service.MaxWait.String(),
	}
	for _, s := range v.Services {
		ds := dashService{Name: s.Name, Index: s.Index, Total: len(s.Instances)}
		for n, i := range s.Instances {
			if n >= maxRowsPerService {
				ds.Hidden++
				d.count(&ds, i.Status)
				continue
			}
			di := dashInstance{
				ID:            i.ID,
				HostPort:      net.JoinHostPort(i.Address, strconv.Itoa(i.Port)),
				Status:        string(i.Status),
				LastHeartbeat: i.LastHeartbeat.Format(time.RFC3339),
				HeartbeatAgo:  human(now.Sub(i.LastHeartbeat)) + " ago",
				LeaseExpires:  i.LeaseExpiresAt.Format(time.RFC3339),
				Registered:    i.RegisteredAt.Format(time.RFC3339),
				TTL:           i.TTL.String(),
			}
			left := i.LeaseExpiresAt.Sub(now)
			switch {
			case left < 0:
				di.LeaseIn, di.LeaseClass = "lapsed "+human(-left)+" ago", "lease-bad"
			case left < i.TTL/3:
				di.LeaseIn, di.LeaseClass = "in "+human(left), "lease-warn"
			default:
				di.LeaseIn, di.LeaseClass = "in "+human(left), "lease-ok"
			}
			di.StatusClass = d.count(&ds, i.Status)
			keys := make([]string, 0, len(i.Metadata))
			for k := range i.Metadata {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				di.Metadata = append(di.Metadata, dashPair{k, i.Metadata[k]})
			}
			ds.Instances = append(ds.Instances, di)
		}
		d.InstanceCount += ds.Total
		d.Services = append(d.Services, ds)
	}
	if d.InstanceCount > 0 {
		d.HealthyPercent = d.Up * 100 / d.InstanceCount
	}
	return d
}

// count adds an instance in status st to the page's and its service's
// counts, and returns the class its badge takes.
func (d *dashData) count(ds *dashService, st registry.Status) string {
	switch st {
	case registry.Up:
		ds.Up++
		d.Up++
		return "up"
	case registry.Down:
		d.Down++
		return "down"
	case registry.OutOfService:
		d.OOS++
		return "oos"
	default:
		d.Other++
		return "oos"
	}
}

// human writes a duration the way a person reads it on a dashboard.
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd %02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}
