package transport

// TooManyUploads is the mapper of a user's upload past their limit.
var TooManyUploads = tooManyUploads
