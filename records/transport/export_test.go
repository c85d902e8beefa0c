package transport

// TooManyUploads is the mapper of a user's upload past their limit.
var TooManyUploads = tooManyUploads

// ErrorStatus is the status the transport answers err with.
func ErrorStatus(err error) int {
	if p := tooManyUploads(err); p != nil {
		return p.Status
	}
	if p := errorRules(err); p != nil {
		return p.Status
	}
	return 0
}
