package authn

// CacheLen exposes the verified-token cache size to tests.
func CacheLen(v *JWTVerifier) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}
