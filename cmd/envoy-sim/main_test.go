package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read output while run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadFlags(t *testing.T) {
	tests := [][]string{
		{"--nope"},
		{"--latency-scale", "x"},
		{"--latency-scale", "-1"},
		{"--token-lifetime", "0s"},
		{"--session-ttl", "-1m"},
		{"--role", ""},
		{"--captures", filepath.Join(t.TempDir(), "missing")},
		{"extra"},
	}
	for _, args := range tests {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if out.Len() != 0 || errOut.Len() == 0 {
			t.Errorf("%v: stdout %q, stderr %q", args, out.String(), errOut.String())
		}
	}
}

func TestRun(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--token-out", tokenFile, "--latency-scale", "0"}, &out, &errOut) }()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no URL on stdout; stderr %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr %q", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "https://127.0.0.1:") {
		t.Errorf("stdout = %q", out.String())
	}
	if !strings.Contains(errOut.String(), "embedded demo") {
		t.Errorf("stderr = %q", errOut.String())
	}
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", fi.Mode().Perm())
	}
	tok, _ := os.ReadFile(tokenFile)
	if strings.Count(string(tok), ".") != 2 || !strings.HasSuffix(string(tok), "\n") {
		t.Errorf("token file = %q", tok)
	}
}
