package certpin

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/smallfile"
)

// How a pin came to be, as recorded in the pin file.
const (
	PinnedFirstUse = "trusted on first use"
	PinnedAccepted = "accepted with telegraf-enphase pin --accept"
)

// Record is what a pin file holds: the fingerprint, and for the person who
// reads it, where and when the certificate was seen.
type Record struct {
	Fingerprint Fingerprint
	Host        string    // the address the gateway was reached at
	Subject     string    // the certificate's subject, CN=envoy-<serial>
	NotAfter    time.Time // the certificate's expiry: about when the gateway renews it
	FirstSeen   time.Time
	Pinned      string // PinnedFirstUse or PinnedAccepted
}

// NewRecord describes cert as seen at host, now.
func NewRecord(cert *x509.Certificate, host string, now time.Time, how string) Record {
	return Record{
		Fingerprint: Of(cert.Raw),
		Host:        host,
		Subject:     cert.Subject.String(),
		NotAfter:    cert.NotAfter.UTC(),
		FirstSeen:   now.UTC().Truncate(time.Second),
		Pinned:      how,
	}
}

// errNoPin means the pin file does not exist yet.
var errNoPin = errors.New("no pin yet")

const fixDelete = "fix or delete it (the next connection then pins the certificate it is presented)"

// ReadFile reads a pin file. A missing file is an error that errors.Is
// fs.ErrNotExist; any other problem is a *FileError.
func ReadFile(path string) (Record, error) {
	b, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, fmt.Errorf("%w: %w", errNoPin, err)
	}
	if err != nil {
		return Record{}, &FileError{Path: path, Err: err, Fix: "the plugin's user must be able to read it"}
	}
	rec, err := parse(b)
	if err != nil {
		return Record{}, &FileError{Path: path, Err: err, Fix: fixDelete}
	}
	return rec, nil
}

// maxFileSize bounds a pin file: what the plugin writes is under 1 KiB.
const maxFileSize = 64 << 10

// readBounded reads a pin file that must be a regular file of at most
// maxFileSize bytes, so a FIFO or a device in its place is refused at once.
func readBounded(path string) ([]byte, error) {
	b, err := smallfile.Read(path, maxFileSize)
	var notRegular *smallfile.NotRegularError
	var tooBig *smallfile.TooLargeError
	switch {
	case errors.As(err, &notRegular):
		return nil, fmt.Errorf("not a regular file (%s)", notRegular.Kind)
	case errors.As(err, &tooBig):
		return nil, fmt.Errorf("larger than %d KiB", maxFileSize>>10)
	}
	return b, err
}

// parse reads "key = value" lines; '#' starts a comment line. Unknown keys
// are ignored, so a later release can add some. Text values are quoted as Go
// strings; an unquoted one (written by releases before R11) is taken as it
// stands. A key given twice is refused: only a certificate that smuggled a
// line into an older pin file makes one (R11).
func parse(b []byte) (Record, error) {
	var rec Record
	seen := map[string]bool{}
	for i, raw := range strings.Split(string(b), "\n") {
		line := i + 1
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return Record{}, fmt.Errorf("line %d is not key = value", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if seen[k] {
			return Record{}, fmt.Errorf("line %d: %s given twice", line, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "sha256":
			rec.Fingerprint, err = ParseFingerprint(v)
		case "host":
			rec.Host, err = text(v)
		case "subject":
			rec.Subject, err = text(v)
		case "not_after":
			rec.NotAfter, err = time.Parse(time.RFC3339, v)
		case "first_seen":
			rec.FirstSeen, err = time.Parse(time.RFC3339, v)
		case "pinned":
			rec.Pinned, err = text(v)
		}
		if err != nil {
			return Record{}, fmt.Errorf("line %d (%s): %w", line, k, err)
		}
	}
	if rec.Fingerprint.IsZero() {
		return Record{}, errors.New("no sha256 line")
	}
	return rec, nil
}

// text reads a text value: a quoted Go string, or (older files) bare text.
func text(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		return v, nil
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		return "", errors.New("bad quoted text")
	}
	return s, nil
}

// format writes rec. Text values, which come from the certificate (subject)
// or the config (host), are quoted so that no newline, quote or '=' in them
// can end their line or add a key (R11).
func (r Record) format() []byte {
	var b bytes.Buffer
	b.WriteString("# telegraf-enphase: the TLS certificate this gateway must present (tls_pin = \"tofu\").\n")
	b.WriteString("# Connections presenting another one are refused before anything is sent.\n")
	b.WriteString("# After the gateway renews its certificate (about once a year), accept the new\n")
	b.WriteString("# one with 'telegraf-enphase pin --accept --config FILE', or delete this file.\n")
	fmt.Fprintf(&b, "sha256 = %s\n", r.Fingerprint)
	fmt.Fprintf(&b, "host = %s\n", strconv.Quote(r.Host))
	fmt.Fprintf(&b, "subject = %s\n", strconv.Quote(r.Subject))
	if !r.NotAfter.IsZero() {
		fmt.Fprintf(&b, "not_after = %s\n", r.NotAfter.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "first_seen = %s\n", r.FirstSeen.UTC().Format(time.RFC3339))
	if r.Pinned != "" {
		fmt.Fprintf(&b, "pinned = %s\n", strconv.Quote(r.Pinned))
	}
	return b.Bytes()
}

// WriteFile stores rec, replacing the pin file atomically: a temporary file
// in the same directory, mode 0600, synced, then renamed over it, like the
// token store does.
func WriteFile(path string, rec Record) error {
	tmp, err := writeTemp(path, rec)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return &FileError{Path: path, Err: err, Fix: "the plugin's user must be able to write its directory"}
	}
	syncDir(path)
	return nil
}

// createFile stores rec unless a pin exists, and returns the pin in force:
// when two processes pin at once, the first one's wins and both check it.
func createFile(path string, rec Record) (Record, bool, error) {
	tmp, err := writeTemp(path, rec)
	if err != nil {
		return Record{}, false, err
	}
	defer os.Remove(tmp)
	// link fails if path exists, where rename would replace it.
	err = os.Link(tmp, path)
	switch {
	case err == nil:
		syncDir(path)
		return rec, true, nil
	case errors.Is(err, fs.ErrExist):
		got, err := ReadFile(path)
		return got, false, err
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP):
		// A file system without hard links: there, rename (the race is only
		// between two first uses of the same certificate).
		if err := WriteFile(path, rec); err != nil {
			return Record{}, false, err
		}
		return rec, true, nil
	}
	return Record{}, false, &FileError{Path: path, Err: err, Fix: "the plugin's user must be able to write its directory"}
}

func writeTemp(path string, rec Record) (string, error) {
	const fix = "the plugin's user must be able to write its directory, or set tls_pin_file"
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", &FileError{Path: path, Err: err, Fix: fix}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", &FileError{Path: path, Err: err, Fix: fix}
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(rec.format())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", &FileError{Path: path, Err: err, Fix: fix}
	}
	return tmp, nil
}

// syncDir makes a new directory entry survive a power cut.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
