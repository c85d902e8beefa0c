package eureka

import (
	"encoding/json"
	"encoding/xml"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medisync/medisync/discovery/registry"
)

// The answer shapes are those of Eureka's own server (EurekaJacksonCodec for
// JSON, XStream for XML): "application" and "instance" are always arrays in
// JSON, a port is {"$": 8080, "@enabled": "true"} or <port enabled="true">,
// and timestamps outside leaseInfo are strings.

type outPort struct {
	Number  int
	Enabled bool
}

func (p outPort) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"$":`), strconv.Itoa(p.Number)...)
	b = append(b, `,"@enabled":"`...)
	b = strconv.AppendBool(b, p.Enabled)
	return append(b, `"}`...), nil
}

func (p outPort) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "enabled"}, Value: strconv.FormatBool(p.Enabled)})
	return e.EncodeElement(p.Number, start)
}

// outMetadata writes a string map with sorted keys; an empty one carries
// Java's empty-map class, as Eureka writes it. In XML each key is an
// element name, so keys that cannot be one (prometheus.io/scrape, 1st) are
// left out there: written raw they would break the whole listing.
type outMetadata map[string]string

func (m outMetadata) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte(`{"@class":"` + classEmptyMap + `"}`), nil
	}
	return json.Marshal(map[string]string(m))
}

func (m outMetadata) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	keys := slices.DeleteFunc(slices.Sorted(maps.Keys(m)), func(k string) bool { return !xmlName(k) })
	if len(keys) == 0 {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "class"}, Value: classEmptyMap})
	}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, k := range keys {
		if err := e.EncodeElement(m[k], xml.StartElement{Name: xml.Name{Local: k}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// xmlName reports whether k can stand as an XML element name, within
// ASCII and without a namespace prefix: a letter or '_', then letters,
// digits, '_', '-' or '.'.
func xmlName(k string) bool {
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return k != ""
}

type outDataCenter struct {
	Class    string      `json:"@class" xml:"class,attr"`
	Name     string      `json:"name" xml:"name"`
	Metadata outMetadata `json:"metadata,omitempty" xml:"metadata,omitempty"`
}

type outLease struct {
	RenewalIntervalInSecs int64 `json:"renewalIntervalInSecs" xml:"renewalIntervalInSecs"`
	DurationInSecs        int64 `json:"durationInSecs" xml:"durationInSecs"`
	RegistrationTimestamp int64 `json:"registrationTimestamp" xml:"registrationTimestamp"`
	LastRenewalTimestamp  int64 `json:"lastRenewalTimestamp" xml:"lastRenewalTimestamp"`
	EvictionTimestamp     int64 `json:"evictionTimestamp" xml:"evictionTimestamp"`
	ServiceUpTimestamp    int64 `json:"serviceUpTimestamp" xml:"serviceUpTimestamp"`
}

// Instance is an instance as Eureka clients read it.
type Instance struct {
	XMLName              xml.Name      `json:"-" xml:"instance"`
	InstanceID           string        `json:"instanceId" xml:"instanceId"`
	HostName             string        `json:"hostName" xml:"hostName"`
	App                  string        `json:"app" xml:"app"`
	IPAddr               string        `json:"ipAddr" xml:"ipAddr"`
	Status               string        `json:"status" xml:"status"`
	OverriddenStatus     string        `json:"overriddenStatus" xml:"overriddenstatus"`
	Port                 outPort       `json:"port" xml:"port"`
	SecurePort           outPort       `json:"securePort" xml:"securePort"`
	CountryID            int64         `json:"countryId" xml:"countryId"`
	DataCenterInfo       outDataCenter `json:"dataCenterInfo" xml:"dataCenterInfo"`
	LeaseInfo            outLease      `json:"leaseInfo" xml:"leaseInfo"`
	Metadata             outMetadata   `json:"metadata" xml:"metadata"`
	AppGroupName         string        `json:"appGroupName,omitempty" xml:"appGroupName,omitempty"`
	HomePageURL          string        `json:"homePageUrl" xml:"homePageUrl"`
	StatusPageURL        string        `json:"statusPageUrl" xml:"statusPageUrl"`
	HealthCheckURL       string        `json:"healthCheckUrl" xml:"healthCheckUrl"`
	SecureHealthCheckURL string        `json:"secureHealthCheckUrl,omitempty" xml:"secureHealthCheckUrl,omitempty"`
	VIPAddress           string        `json:"vipAddress" xml:"vipAddress"`
	SecureVIPAddress     string        `json:"secureVipAddress" xml:"secureVipAddress"`
	ASGName              string        `json:"asgName,omitempty" xml:"asgName,omitempty"`
	Coord                string        `json:"isCoordinatingDiscoveryServer" xml:"isCoordinatingDiscoveryServer"`
	LastUpdatedTimestamp string        `json:"lastUpdatedTimestamp" xml:"lastUpdatedTimestamp"`
	LastDirtyTimestamp   string        `json:"lastDirtyTimestamp" xml:"lastDirtyTimestamp"`
	ActionType           string        `json:"actionType,omitempty" xml:"actionType,omitempty"`
}

// Application is one application's instances.
type Application struct {
	XMLName   xml.Name    `json:"-" xml:"application"`
	Name      string      `json:"name" xml:"name"`
	Instances []*Instance `json:"instance" xml:"instance"`
}

// Applications is a registry listing, full or delta.
type Applications struct {
	XMLName       xml.Name       `json:"-" xml:"applications"`
	VersionsDelta string         `json:"versions__delta" xml:"versions__delta"`
	AppsHashcode  string         `json:"apps__hashcode" xml:"apps__hashcode"`
	Applications  []*Application `json:"application" xml:"application"`
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// AppName is the Eureka name of a registry service: upper case.
func AppName(service string) string { return strings.ToUpper(service) }

// render turns a registry instance into what Eureka clients read. An
// instance registered through our own API gets Eureka's defaults.
func render(i registry.Instance, action registry.Action) *Instance {
	ttl := int64(i.TTL / time.Second)
	hostPort := net.JoinHostPort(i.Address, strconv.Itoa(i.Port))
	out := &Instance{
		InstanceID: i.ID, HostName: i.Address, App: AppName(i.Service), IPAddr: i.Address,
		Status: string(i.Status), OverriddenStatus: string(registry.Unknown),
		Port: outPort{i.Port, true}, SecurePort: outPort{443, false}, CountryID: 1,
		DataCenterInfo: outDataCenter{Class: ClassMyOwn, Name: "MyOwn"},
		LeaseInfo: outLease{
			RenewalIntervalInSecs: max(ttl/3, 1), DurationInSecs: ttl,
			RegistrationTimestamp: millis(i.RegisteredAt), LastRenewalTimestamp: millis(i.LastHeartbeat),
			ServiceUpTimestamp: millis(i.RegisteredAt),
		},
		Metadata:    outMetadata(i.Metadata),
		HomePageURL: "http://" + hostPort + "/", StatusPageURL: "http://" + hostPort + "/health/live",
		HealthCheckURL: "http://" + hostPort + "/health/ready",
		VIPAddress:     i.Service, SecureVIPAddress: i.Service, Coord: "false",
		LastUpdatedTimestamp: strconv.FormatInt(millis(i.UpdatedAt), 10),
		LastDirtyTimestamp:   strconv.FormatInt(millis(i.UpdatedAt), 10),
		ActionType:           string(action),
	}
	d := docOf(i)
	if d == nil {
		if _, ov := statuses(i.Status, i.Extra); ov != "" {
			out.OverriddenStatus = string(ov)
		}
		return out
	}
	out.App, out.HostName = d.App, d.HostName
	if d.IPAddr != "" {
		out.IPAddr = d.IPAddr
	}
	if d.Override != "" {
		out.OverriddenStatus = string(d.Override)
	}
	out.Port = outPort{i.Port, d.PortEnabled}
	out.SecurePort = outPort{d.SecurePort, d.SecurePortEnabled}
	out.CountryID = d.CountryID
	out.DataCenterInfo = outDataCenter{Class: d.DataCenterClass, Name: d.DataCenterName, Metadata: outMetadata(d.DataCenterMetadata)}
	if len(d.DataCenterMetadata) == 0 {
		out.DataCenterInfo.Metadata = nil
	}
	out.LeaseInfo.RenewalIntervalInSecs = d.RenewalIntervalSecs
	out.AppGroupName, out.ASGName = d.AppGroupName, d.ASGName
	out.HomePageURL, out.StatusPageURL, out.HealthCheckURL = d.HomePageURL, d.StatusPageURL, d.HealthCheckURL
	out.SecureHealthCheckURL = d.SecureHealthCheckURL
	out.VIPAddress, out.SecureVIPAddress = d.VIPAddress, d.SecureVIPAddress
	out.Coord = strconv.FormatBool(d.Coord)
	out.LastDirtyTimestamp = strconv.FormatInt(d.LastDirty, 10)
	return out
}

// group builds applications from instances in the order given, one
// application per service in order of first appearance.
func group(insts []*Instance, services []string) []*Application {
	apps := []*Application{}
	byName := map[string]*Application{}
	for k, inst := range insts {
		a := byName[services[k]]
		if a == nil {
			a = &Application{Name: inst.App}
			byName[services[k]] = a
			apps = append(apps, a)
		}
		a.Instances = append(a.Instances, inst)
	}
	return apps
}

// fullListing renders the whole registry view.
func fullListing(v registry.View) *Applications {
	totals := map[registry.Status]int{}
	apps := make([]*Application, 0, len(v.Services))
	for _, s := range v.Services {
		a := &Application{Name: AppName(s.Name), Instances: make([]*Instance, 0, len(s.Instances))}
		for _, i := range s.Instances {
			a.Instances = append(a.Instances, render(i, registry.Added))
			totals[i.Status]++
		}
		if len(a.Instances) > 0 {
			// The app's name is the one its instances registered under.
			a.Name = a.Instances[0].App
			apps = append(apps, a)
		}
	}
	return &Applications{VersionsDelta: strconv.FormatUint(v.Index, 10), AppsHashcode: reconcileHashCode(totals), Applications: apps}
}

// deltaListing renders the change log, which holds the last change of each
// instance, in the order of the changes.
func deltaListing(d registry.Delta) *Applications {
	insts := make([]*Instance, 0, len(d.Changes))
	services := make([]string, 0, len(d.Changes))
	for _, c := range d.Changes {
		insts = append(insts, render(c.Instance, c.Action))
		services = append(services, c.Instance.Service)
	}
	return &Applications{
		VersionsDelta: strconv.FormatUint(d.Index, 10), AppsHashcode: reconcileHashCode(d.Totals),
		Applications: group(insts, services),
	}
}

// listingOf renders instances picked from a view (VIP queries, lookups by
// ID) with the hash code of the whole view.
func listingOf(v registry.View, keep func(registry.Instance, *Instance) bool) *Applications {
	totals := map[registry.Status]int{}
	var insts []*Instance
	var services []string
	for _, s := range v.Services {
		for _, i := range s.Instances {
			totals[i.Status]++
			if out := render(i, registry.Added); keep(i, out) {
				insts = append(insts, out)
				services = append(services, s.Name)
			}
		}
	}
	return &Applications{
		VersionsDelta: strconv.FormatUint(v.Index, 10), AppsHashcode: reconcileHashCode(totals),
		Applications: group(insts, services),
	}
}

// encode writes v as JSON under its root name ({"applications": ...}) or as
// XML.
func encode(root string, v any, asXML bool) ([]byte, error) {
	if asXML {
		b, err := xml.Marshal(v)
		if err != nil {
			return nil, err
		}
		return append([]byte(xml.Header), b...), nil
	}
	return json.Marshal(map[string]any{root: v})
}
