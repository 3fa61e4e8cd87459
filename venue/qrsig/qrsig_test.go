package qrsig_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue/qrsig"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func keyring(t *testing.T, now *time.Time, keys ...qrsig.Key) *qrsig.Keyring {
	t.Helper()
	k, err := qrsig.NewKeyring(keys, 30*24*time.Hour, func() time.Time { return *now })
	require.NoError(t, err)
	return k
}

func TestCodeRoundTrip(t *testing.T) {
	now := t0
	k := keyring(t, &now, qrsig.Key{Secret: []byte("0123456789abcdef0123456789abcdef")})
	for _, id := range []uint32{1, 72, 4294967295} {
		code := k.Code(id)
		require.Regexp(t, `^TV1\.[1-9][0-9]*\.[A-Z2-7]{16}$`, code)
		got, err := k.Verify(code)
		require.NoError(t, err)
		require.Equal(t, id, got)
	}
	// A known answer (Python's hmac and base64 agree): the format is a
	// contract with the posters already printed.
	require.Equal(t, "TV1.72.MECI327FFPUER5QG", k.Code(72))
}

func TestVerifyRefuses(t *testing.T) {
	now := t0
	k := keyring(t, &now, qrsig.Key{Secret: bytes.Repeat([]byte{1}, 32)})
	other := keyring(t, &now, qrsig.Key{Secret: bytes.Repeat([]byte{2}, 32)})
	good := k.Code(42)
	sig := good[len("TV1.42."):]
	flipped := []byte(good)
	flipped[len(flipped)-1] = map[bool]byte{true: 'B', false: 'A'}[flipped[len(flipped)-1] == 'A']
	for _, tc := range []struct {
		name, code string
		want       error
	}{
		{"forged by another deployment", other.Code(42), qrsig.ErrSignature},
		{"one character changed", string(flipped), qrsig.ErrSignature},
		{"truncated signature", good[:len(good)-1], qrsig.ErrSignature},
		{"no signature", "TV1.42.", qrsig.ErrSignature},
		{"another venue's signature", "TV1.43." + sig, qrsig.ErrSignature},
		{"lower case", strings.ToLower(good[:7]) + strings.ToLower(sig), qrsig.ErrMalformed},
		{"lower case signature", "TV1.42." + strings.ToLower(sig), qrsig.ErrSignature},
		{"padded", good + "=", qrsig.ErrSignature},
		{"truncated id", "TV1.4", qrsig.ErrMalformed},
		{"leading zero", "TV1.042." + sig, qrsig.ErrMalformed},
		{"zero", "TV1.0." + sig, qrsig.ErrMalformed},
		{"too large", "TV1.4294967296." + sig, qrsig.ErrMalformed},
		{"signed id", "TV1.+42." + sig, qrsig.ErrMalformed},
		{"other version", "TV2.42." + sig, qrsig.ErrMalformed},
		{"empty", "", qrsig.ErrMalformed},
		{"long", good + strings.Repeat("A", 100), qrsig.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Verify(tc.code)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestRotationGrace(t *testing.T) {
	now := t0
	oldKey := qrsig.Key{Secret: bytes.Repeat([]byte{1}, 32)}
	oldCode := keyring(t, &now, oldKey).Code(7)

	oldKey.Retired = t0
	k := keyring(t, &now, qrsig.Key{Secret: bytes.Repeat([]byte{2}, 32)}, oldKey)
	require.NotEqual(t, oldCode, k.Code(7), "new posters carry the new key")
	now = t0.Add(29 * 24 * time.Hour)
	id, err := k.Verify(oldCode)
	require.NoError(t, err, "old posters verify during the grace period")
	require.Equal(t, uint32(7), id)
	now = t0.Add(30 * 24 * time.Hour)
	_, err = k.Verify(oldCode)
	require.ErrorIs(t, err, qrsig.ErrSignature, "and not after it")
}

func TestNewKeyringNeedsOneCurrentKey(t *testing.T) {
	now := time.Now
	_, err := qrsig.NewKeyring(nil, time.Hour, now)
	require.ErrorIs(t, err, qrsig.ErrNoKey)
	_, err = qrsig.NewKeyring([]qrsig.Key{{Secret: []byte("short")}}, time.Hour, now)
	require.ErrorIs(t, err, qrsig.ErrNoKey)
	_, err = qrsig.NewKeyring([]qrsig.Key{{Secret: qrsig.NewSecret()}, {Secret: qrsig.NewSecret()}}, time.Hour, now)
	require.Error(t, err)
}

func TestSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "venue.secret")
	created, err := qrsig.EnsureFile(path)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	created, err = qrsig.EnsureFile(path)
	require.NoError(t, err)
	require.False(t, created, "an existing file is kept")

	now := t0
	clock := func() time.Time { return now }
	k1, err := qrsig.LoadFile(path, 24*time.Hour, clock)
	require.NoError(t, err)
	code1 := k1.Code(9)

	require.NoError(t, qrsig.RotateFile(path, t0, 24*time.Hour))
	k2, err := qrsig.LoadFile(path, 24*time.Hour, clock)
	require.NoError(t, err)
	require.NotEqual(t, code1, k2.Code(9))
	_, err = k2.Verify(code1)
	require.NoError(t, err)

	// A second rotation a day later drops the first key, past its grace.
	require.NoError(t, qrsig.RotateFile(path, t0.Add(25*time.Hour), 24*time.Hour))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	keys, err := qrsig.ParseKeys(b)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	now = t0.Add(25 * time.Hour)
	k3, err := qrsig.LoadFile(path, 24*time.Hour, clock)
	require.NoError(t, err)
	_, err = k3.Verify(code1)
	require.ErrorIs(t, err, qrsig.ErrSignature)
	_, err = k3.Verify(k2.Code(9))
	require.NoError(t, err)
}

func TestParseKeysRefuses(t *testing.T) {
	good := strings.TrimRight(string(qrsig.FormatKeys([]qrsig.Key{{Secret: bytes.Repeat([]byte{3}, 32)}})), "\n")
	secret := strings.Split(good, "\n")[1]
	for name, content := range map[string]string{
		"empty":              "",
		"only comments":      "# nothing\n",
		"not base64":         "!!!\n",
		"short":              "c2hvcnQ\n",
		"first retired":      secret + " retired=2026-01-01T00:00:00Z\n",
		"second current":     secret + "\n" + secret + "\n",
		"bad time":           secret + "\n" + secret + " retired=yesterday\n",
		"unknown attributes": secret + "\n" + secret + " colour=blue\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := qrsig.ParseKeys([]byte(content))
			require.ErrorIs(t, err, qrsig.ErrKeyFile)
		})
	}
}
