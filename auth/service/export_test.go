package service

// Exported for the external tests of this package.
var (
	NormalizeRoles   = normalizeRoles
	DecodeUserCursor = decodeUserCursor
)
