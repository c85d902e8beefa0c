package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

func TestPolicyLengthBounds(t *testing.T) {
	p := NewPolicy()
	assert.Error(t, p.Check("short-pass1", ""), "11 characters")
	assert.NoError(t, p.Check("quiet-meadow", ""), "12 characters")
	assert.NoError(t, p.Check(strings.Repeat("x7", 64), ""), "128 characters")
	assert.Error(t, p.Check(strings.Repeat("x7", 64)+"z", ""), "129 characters")
	// Characters, not bytes: 12 two-byte letters are enough, 129 are too many.
	assert.NoError(t, p.Check(strings.Repeat("é", 12), ""))
	assert.Error(t, p.Check(strings.Repeat("é", 11), ""))
	assert.Error(t, p.Check(strings.Repeat("é", 129), ""))
	assert.Error(t, p.Check("invalid-utf8-\xff\xfe", ""))
}

func TestPolicyRefusesCommonPasswords(t *testing.T) {
	p := NewPolicy()
	assert.GreaterOrEqual(t, p.CommonCount(), 10000)
	for _, pw := range []string{"password1234", "PASSWORD1234", "qwertyuiop12", "123456789012", " iloveyou1234 "} {
		err := p.Check(pw, "")
		require.Error(t, err, pw)
		assert.Contains(t, err.Error(), "common")
	}
	assert.NoError(t, p.Check("violet tram cupboard", ""))
}

func TestPolicyRefusesTheEmail(t *testing.T) {
	p := NewPolicy()
	assert.Error(t, p.Check("Pat.Q@example.org", "pat.q@example.org"))
	assert.NoError(t, p.Check("Pat.Q@example.org", "other@example.org"))
}

func TestEncodeAndCompare(t *testing.T) {
	enc, err := Encode("violet tram cupboard", Cheap)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$"), enc)

	ok, params, err := Compare("violet tram cupboard", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, Cheap, params)

	ok, _, err = Compare("violet tram cupboarD", enc)
	require.NoError(t, err)
	assert.False(t, ok)

	other, err := Encode("violet tram cupboard", Cheap)
	require.NoError(t, err)
	assert.NotEqual(t, enc, other, "a fresh salt each time")
}

func TestOWASPParametersInPHC(t *testing.T) {
	enc, err := Encode("violet tram cupboard", OWASP)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$"), enc)
}

func TestDecodeRefusesMalformed(t *testing.T) {
	good, err := Encode("x", Cheap)
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":    strings.Replace(good, "m=64", "m=99999999", 1),
		"zero time":      strings.Replace(good, "t=1", "t=0", 1),
		"unknown param":  strings.Replace(good, "p=1", "q=1", 1),
		"bad salt":       strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"short key":      strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"missing fields": "$argon2id$v=19$m=64,t=1,p=1",
	} {
		_, _, err := Compare("x", enc)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func TestHasherVerifyAndRehash(t *testing.T) {
	ctx := context.Background()
	h, err := NewHasher(HasherOptions{Params: Cheap})
	require.NoError(t, err)
	enc, err := h.Hash(ctx, "violet tram cupboard")
	require.NoError(t, err)
	ok, rehash, err := h.Verify(ctx, "violet tram cupboard", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.False(t, rehash)

	stronger := Cheap
	stronger.Time = 2
	h2, err := NewHasher(HasherOptions{Params: stronger})
	require.NoError(t, err)
	ok, rehash, err = h2.Verify(ctx, "violet tram cupboard", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, rehash, "a hash made with older parameters is upgraded")

	ok, rehash, err = h2.Verify(ctx, "wrong", enc)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.False(t, rehash)

	assert.NoError(t, h.VerifyDummy(ctx, "anything"))
}

// A password is one whatever its Unicode form: the policy counts the
// characters of its NFKC form, and a hash of a password as typed (written
// before passwords were normalized) verifies and is marked for rehashing.
func TestPasswordsAreNormalizedToNFKC(t *testing.T) {
	const nfc = "caf\u00e9 cr\u00e8mes"   // 11 characters
	const nfd = "cafe\u0301 cre\u0300mes" // the same, 13 code points
	p := NewPolicy()
	assert.Error(t, p.Check(nfd, ""), "11 characters, however many code points")
	assert.NoError(t, p.Check(nfd+"s", ""))
	long := strings.Repeat("e\u0301", MaxLength) // 128 characters, 256 code points
	assert.NoError(t, p.Check(long, ""))
	assert.False(t, TooLong(long), "a valid password sent decomposed is not too long to log in")
	assert.False(t, TooLong(strings.Repeat("\ufdfa", MaxLength)), "nor one that NFKC lengthens")
	assert.True(t, TooLong(strings.Repeat("x", MaxLength+1)))

	ctx := context.Background()
	h, err := NewHasher(HasherOptions{Params: Cheap})
	require.NoError(t, err)
	enc, err := h.Hash(ctx, nfd)
	require.NoError(t, err)
	for _, pw := range []string{nfc, nfd} {
		ok, rehash, err := h.Verify(ctx, pw, enc)
		require.NoError(t, err)
		assert.True(t, ok, "%q", pw)
		assert.False(t, rehash)
	}

	legacy, err := encodeRaw(nfd, Cheap)
	require.NoError(t, err)
	ok, rehash, err := h.Verify(ctx, nfd, legacy)
	require.NoError(t, err)
	assert.True(t, ok, "a hash of the password as typed verifies")
	assert.True(t, rehash, "and is replaced by one of its NFKC form")
	ok, rehash, err = h.Verify(ctx, "cafe cremes", legacy)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.False(t, rehash)
}

// encodeRaw is Encode as it was before passwords were normalized.
func encodeRaw(pw string, p Params) (string, error) {
	salt := []byte("sixteen byte salt")[:p.SaltLen]
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func TestHasherPoolIsBounded(t *testing.T) {
	ctx := context.Background()
	h, err := NewHasher(HasherOptions{Params: Cheap, Workers: 1, MaxWait: 20 * time.Millisecond, MaxQueue: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, h.Workers())

	release, err := h.acquire(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, h.InUse())

	// The only worker is taken: a caller waits MaxWait, then gets ErrBusy.
	_, err = h.Hash(ctx, "violet tram cupboard")
	assert.ErrorIs(t, err, ErrBusy)

	// A full queue answers at once.
	waiting := make(chan error, 1)
	slow, err := NewHasher(HasherOptions{Params: Cheap, Workers: 1, MaxWait: time.Minute, MaxQueue: 1})
	require.NoError(t, err)
	hold, err := slow.acquire(ctx)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	go func() { _, err := slow.Hash(wctx, "x"); waiting <- err }()
	require.Eventually(t, func() bool { return slow.Waiting() == 1 }, 5*time.Second, time.Millisecond)
	_, err = slow.Hash(ctx, "y")
	assert.ErrorIs(t, err, ErrBusy, "queue full")
	cancel()
	err = <-waiting
	assert.True(t, errors.Is(err, context.Canceled), "a waiting caller gives up with its context")
	hold()

	release()
	_, err = h.Hash(ctx, "violet tram cupboard")
	assert.NoError(t, err, "a free worker serves again")
}

func BenchmarkHashOWASP(b *testing.B) {
	for b.Loop() {
		if _, err := Encode("violet tram cupboard", OWASP); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyOWASP(b *testing.B) {
	enc, err := Encode("violet tram cupboard", OWASP)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := Compare("violet tram cupboard", enc); err != nil || !ok {
			b.Fatal("verify failed", err)
		}
	}
}

func BenchmarkCommonCheck(b *testing.B) {
	p := NewPolicy()
	for b.Loop() {
		_ = p.Check("violet tram cupboard", "pat@example.org")
	}
}

func TestNewHasherRefusesParametersItCouldNotReadBack(t *testing.T) {
	_, err := NewHasher(HasherOptions{Params: Params{MemoryKiB: 16, Time: 1, Threads: 4, SaltLen: 16, KeyLen: 32}})
	assert.Error(t, err, "m < 8·p: Decode would refuse every hash")
	_, err = NewHasher(HasherOptions{Params: Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}})
	assert.Error(t, err, "a salt Decode refuses")
	_, err = NewHasher(HasherOptions{Params: Cheap})
	assert.NoError(t, err)
}
