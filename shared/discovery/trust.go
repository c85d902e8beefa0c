package discovery

// MetaAuthenticated is the metadata key the discovery server sets to "true"
// on an instance registered with its own service's write token. Only the
// server sets it (it removes a client's own claim), so it tells a service's
// real instances from a process that merely holds the shared token
// (docs/adr/0011-authenticated-registrations.md).
const MetaAuthenticated = "authenticated"

// Authenticated reports whether the server authenticated the instance's
// registration with its service's own token.
func (i Instance) Authenticated() bool { return i.Metadata[MetaAuthenticated] == "true" }

// WithAuthenticated makes the client use, for each service named, only the
// instances the server authenticated: Instances, Instancer and the resolving
// transport ignore the others, so a rogue registered under that name with
// the shared token (or anonymously) never receives a request.
func WithAuthenticated(services ...string) Option {
	return func(c *Client) {
		if c.authenticated == nil {
			c.authenticated = map[string]bool{}
		}
		for _, s := range services {
			c.authenticated[s] = true
		}
	}
}

// usable returns the instances of service that requests may go to: the UP
// ones, and of a service that must be authenticated only the authenticated.
func (c *Client) usable(service string, v ServiceView) []Instance {
	up := v.Up()
	if !c.authenticated[service] {
		return up
	}
	out := up[:0]
	for _, i := range up {
		if i.Authenticated() {
			out = append(out, i)
		}
	}
	return out
}
