package qrsig

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The secret file has one key a line, the current one first:
//
//	# comment
//	<secret, base64url without padding>
//	<secret> retired=<RFC 3339 time>
//
// EnsureFile creates it with a fresh 256-bit key; RotateFile puts a new key
// first and retires the one before it.

const fileHeader = "# truyvet venue QR secret: the first key signs; retired keys verify until their retirement plus the grace period\n"

// ErrKeyFile is returned for a secret file that does not parse.
var ErrKeyFile = errors.New("venue secret file")

// ParseKeys reads the keys of a secret file's content.
func ParseKeys(b []byte) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		secret, attr, _ := strings.Cut(line, " ")
		raw, err := base64.RawURLEncoding.DecodeString(secret)
		if err != nil || len(raw) < MinSecretBytes {
			return nil, fmt.Errorf("%w: line %d: the key is not base64url of %d bytes or more", ErrKeyFile, n, MinSecretBytes)
		}
		key := Key{Secret: raw}
		if attr = strings.TrimSpace(attr); attr != "" {
			at, ok := strings.CutPrefix(attr, "retired=")
			if key.Retired, err = time.Parse(time.RFC3339, at); !ok || err != nil || key.Retired.IsZero() {
				return nil, fmt.Errorf("%w: line %d: after the key only retired=<RFC 3339 time>", ErrKeyFile, n)
			}
		}
		if (len(keys) == 0) != key.Retired.IsZero() {
			return nil, fmt.Errorf("%w: line %d: the first key, and only it, is current (no retired=)", ErrKeyFile, n)
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrKeyFile)
	}
	return keys, nil
}

// FormatKeys is the secret file's content for keys, the current one first.
func FormatKeys(keys []Key) []byte {
	var b bytes.Buffer
	b.WriteString(fileHeader)
	for _, k := range keys {
		b.WriteString(base64.RawURLEncoding.EncodeToString(k.Secret))
		if !k.Retired.IsZero() {
			b.WriteString(" retired=" + k.Retired.UTC().Format(time.RFC3339))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// LoadFile reads a secret file into a keyring.
func LoadFile(path string, grace time.Duration, now func() time.Time) (*Keyring, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	keys, err := ParseKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewKeyring(keys, grace, now)
}

// EnsureFile creates path, mode 0600, with a fresh key if it does not exist.
// It reports whether it did.
func EnsureFile(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator names the file
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	_, err = f.Write(FormatKeys([]Key{{Secret: NewSecret()}}))
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	return true, nil
}

// NewSecret returns 32 random bytes.
func NewSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// RotateFile puts a fresh key first in path, retires the key that was
// current at now, and drops keys retired more than grace before now. Codes
// of the retired key keep verifying for grace.
func RotateFile(path string, now time.Time, grace time.Duration) error {
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	keys, err := ParseKeys(b)
	if err != nil {
		return err
	}
	out := []Key{{Secret: NewSecret()}}
	for _, k := range keys {
		if k.Retired.IsZero() {
			k.Retired = now
		}
		if now.Before(k.Retired.Add(grace)) {
			out = append(out, k)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".venue-secret-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	_, err = tmp.Write(FormatKeys(out))
	err = errors.Join(err, tmp.Chmod(0o600), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	return nil
}
