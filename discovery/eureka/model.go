package eureka

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/medisync/medisync/discovery/registry"
)

// Wire names of Eureka's defaults.
const (
	// ClassMyOwn is the data-center class of an instance outside Amazon.
	ClassMyOwn = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
	// ClassAmazon is the data-center class of an Amazon instance.
	ClassAmazon   = "com.netflix.appinfo.AmazonInfo"
	classEmptyMap = "java.util.Collections$EmptyMap"
	// defaultDuration and defaultRenewal are Eureka's lease defaults.
	defaultDuration = 90
	defaultRenewal  = 30
)

// Doc is what the registry keeps of a Eureka instance document beyond its
// own fields (registry.Extra). It is never modified once registered.
type Doc struct {
	core
	// DataCenterMetadata is the data center's metadata (Amazon's).
	DataCenterMetadata map[string]string
}

// core holds the comparable fields of a Doc.
type core struct {
	App                  string
	HostName             string
	IPAddr               string
	VIPAddress           string
	SecureVIPAddress     string
	Port                 int
	PortEnabled          bool
	SecurePort           int
	SecurePortEnabled    bool
	HomePageURL          string
	StatusPageURL        string
	HealthCheckURL       string
	SecureHealthCheckURL string
	CountryID            int64
	DataCenterClass      string
	DataCenterName       string
	RenewalIntervalSecs  int64
	DurationSecs         int64
	AppGroupName         string
	ASGName              string
	// Reported is the status the instance itself reports; Override is the
	// status an operator set over it (empty for none), which wins.
	Reported  registry.Status
	Override  registry.Status
	LastDirty int64 // Unix milliseconds
	Coord     bool
}

// Equal reports whether other is the same document.
func (d *Doc) Equal(other registry.Extra) bool {
	o, ok := other.(*Doc)
	return ok && (d == o || d.core == o.core && maps.Equal(d.DataCenterMetadata, o.DataCenterMetadata))
}

// WithStatus is the document of an instance whose status is set to status
// at now through our own API (registry.StatusExtra), and the status it then
// has. An operator's word is an override, as on Eureka's own status API, so
// that it outlasts the status a Eureka client sends with every renewal
// (Spring's UP), and removing it gives back what the instance reports; a
// word that agrees with the report is none. The report still wins where it
// would over any override (statusOf).
func (d *Doc) WithStatus(now time.Time, status registry.Status) (registry.Extra, registry.Status) {
	override := status
	if status == d.Reported {
		override = ""
	}
	if override == d.Override {
		return d, statusOf(d.Reported, d.Override)
	}
	c := *d
	c.Override, c.LastDirty = override, now.UnixMilli()
	return &c, statusOf(c.Reported, c.Override)
}

// Size is about the bytes the document holds: its struct, its strings and
// the data center's metadata (registry.Extra).
func (d *Doc) Size() int {
	c := &d.core
	n := int(unsafe.Sizeof(*d)) + len(c.App) + len(c.HostName) + len(c.IPAddr) + len(c.VIPAddress) +
		len(c.SecureVIPAddress) + len(c.HomePageURL) + len(c.StatusPageURL) + len(c.HealthCheckURL) +
		len(c.SecureHealthCheckURL) + len(c.DataCenterClass) + len(c.DataCenterName) + len(c.AppGroupName) +
		len(c.ASGName) + len(c.Reported) + len(c.Override)
	for k, v := range d.DataCenterMetadata {
		n += 48 + len(k) + len(v) // 48: the map slot and string headers
	}
	return n
}

func docOf(i registry.Instance) *Doc {
	d, _ := i.Extra.(*Doc)
	return d
}

// flexInt reads a number written as a JSON number or a string, as Eureka
// clients write both.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	*n = flexInt(v)
	return nil
}

// flexBool reads a boolean written as true or "true".
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	*v = flexBool(strings.EqualFold(s, "true"))
	return nil
}

// stringMap reads a metadata object: values of any scalar type become
// strings, and Java's "@class" marker is dropped.
type stringMap map[string]string

func (m *stringMap) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(stringMap, len(raw))
	for k, v := range raw {
		if k == "@class" {
			continue
		}
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		case bool, float64:
			out[k] = fmt.Sprint(v)
		default:
			return fmt.Errorf("metadata %.64q must be a string", k)
		}
	}
	*m = out
	return nil
}

func (m *stringMap) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	out := stringMap{}
	for {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.StartElement:
			var v string
			if err := d.DecodeElement(&v, &t); err != nil {
				return err
			}
			out[t.Name.Local] = v
		case xml.EndElement:
			*m = out
			return nil
		}
	}
}

type inPort struct {
	Number  flexInt  `json:"$" xml:",chardata"`
	Enabled flexBool `json:"@enabled" xml:"enabled,attr"`
}

// inInstance is an instance document as a client sends it, JSON or XML.
type inInstance struct {
	InstanceID           string   `json:"instanceId" xml:"instanceId"`
	HostName             string   `json:"hostName" xml:"hostName"`
	App                  string   `json:"app" xml:"app"`
	AppGroupName         string   `json:"appGroupName" xml:"appGroupName"`
	IPAddr               string   `json:"ipAddr" xml:"ipAddr"`
	Status               string   `json:"status" xml:"status"`
	Port                 *inPort  `json:"port" xml:"port"`
	SecurePort           *inPort  `json:"securePort" xml:"securePort"`
	HomePageURL          string   `json:"homePageUrl" xml:"homePageUrl"`
	StatusPageURL        string   `json:"statusPageUrl" xml:"statusPageUrl"`
	HealthCheckURL       string   `json:"healthCheckUrl" xml:"healthCheckUrl"`
	SecureHealthCheckURL string   `json:"secureHealthCheckUrl" xml:"secureHealthCheckUrl"`
	VIPAddress           string   `json:"vipAddress" xml:"vipAddress"`
	SecureVIPAddress     string   `json:"secureVipAddress" xml:"secureVipAddress"`
	CountryID            flexInt  `json:"countryId" xml:"countryId"`
	ASGName              string   `json:"asgName" xml:"asgName"`
	LastDirtyTimestamp   flexInt  `json:"lastDirtyTimestamp" xml:"lastDirtyTimestamp"`
	Coord                flexBool `json:"isCoordinatingDiscoveryServer" xml:"isCoordinatingDiscoveryServer"`
	DataCenterInfo       struct {
		Class    string    `json:"@class" xml:"class,attr"`
		Name     string    `json:"name" xml:"name"`
		Metadata stringMap `json:"metadata" xml:"metadata"`
	} `json:"dataCenterInfo" xml:"dataCenterInfo"`
	LeaseInfo struct {
		RenewalIntervalInSecs flexInt `json:"renewalIntervalInSecs" xml:"renewalIntervalInSecs"`
		DurationInSecs        flexInt `json:"durationInSecs" xml:"durationInSecs"`
	} `json:"leaseInfo" xml:"leaseInfo"`
	Metadata stringMap `json:"metadata" xml:"metadata"`
}

// errBody is a body that is not an instance document.
var errBody = errors.New("the body is not a Eureka instance document")

// decodeInstance reads {"instance": {...}} or <instance>...</instance>.
func decodeInstance(body []byte, isXML bool) (inInstance, error) {
	if isXML {
		// The root is named as JSON's wrapper is: without XMLName any
		// element holding an instance's fields would be taken for one.
		var doc struct {
			XMLName xml.Name `xml:"instance"`
			inInstance
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			return inInstance{}, fmt.Errorf("%w: %w", errBody, err)
		}
		return doc.inInstance, nil
	}
	// encoding/json would turn a byte that is not UTF-8 into U+FFFD and
	// keep the string; the body is refused instead, as encoding/xml does.
	if !utf8.Valid(body) {
		return inInstance{}, fmt.Errorf("%w: the body is not UTF-8", errBody)
	}
	var wrap struct {
		Instance *inInstance `json:"instance"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wrap); err != nil {
		return inInstance{}, fmt.Errorf("%w: %w", errBody, err)
	}
	if wrap.Instance == nil {
		return inInstance{}, fmt.Errorf("%w: no \"instance\" object", errBody)
	}
	return *wrap.Instance, nil
}

// reconcileHashCode is Eureka's apps__hashcode: the count of instances in
// each status, by status name in order, as "DOWN_2_UP_5_"
// (Applications.getReconcileHashCode), so that a client can tell whether
// the registry it reconciled from a delta is the server's.
func reconcileHashCode(totals map[registry.Status]int) string {
	keys := slices.Sorted(maps.Keys(totals))
	var b strings.Builder
	for _, k := range keys {
		if totals[k] == 0 {
			continue
		}
		b.WriteString(string(k))
		b.WriteByte('_')
		b.WriteString(strconv.Itoa(totals[k]))
		b.WriteByte('_')
	}
	return b.String()
}
