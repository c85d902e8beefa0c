package authn

// CacheLen exposes the verified-token cache size to tests.
func CacheLen(v *JWTVerifier) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}

// RevocationLowWater is what a list past MaxRevocations is cut down to.
const RevocationLowWater = revocationLowWater

// RevocationCuts counts the times l was cut down to RevocationLowWater.
func RevocationCuts(l *RevocationList) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cuts
}

// KeySetChanges counts the changes of v's key set.
func KeySetChanges(v *JWTVerifier) uint64 { return v.keysGen.Load() }
