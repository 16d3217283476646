// Command floor is bench/compare's floor contender: the least a program can
// do for a steady gather of telegraf-enphase under [[inputs.execd]]. For
// each line on stdin it makes the plugin's two steady requests
// (/production.json?details=1 and /ivp/meters/readings) over one kept-alive
// HTTPS connection with the gateway's sessionId cookie, reads both bodies,
// and writes the plugin's steady lines (a file of line protocol, taken from
// telegraf-enphase's own output) with the time of the gather, in one write.
// It decodes no JSON and builds no metric: what telegraf-enphase costs above
// it is its decoding, mapping, encoding and bookkeeping. It runs on one P
// and at GOGC 25, as telegraf-enphase does.
//
//	floor URL TOKEN_FILE LINES_FILE
//
// Loopback only: the simulator's certificate is not checked.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

var steadyPaths = []string{"/production.json?details=1", "/ivp/meters/readings"}

func main() {
	runtime.GOMAXPROCS(1) // as telegraf-enphase runs its execd loop
	debug.SetGCPercent(25)
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: floor URL TOKEN_FILE LINES_FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "E! floor:", err)
		os.Exit(1)
	}
}

func run(base, tokenFile, linesFile string) error {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(linesFile)
	if err != nil {
		return err
	}
	// Each line without its timestamp; the gather's time is appended.
	var heads [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		i := bytes.LastIndexByte(l, ' ')
		if i < 0 {
			return fmt.Errorf("%s: a line without a timestamp", linesFile)
		}
		heads = append(heads, l[:i+1])
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 1}}
	checkJWT := func() error {
		req, _ := http.NewRequest(http.MethodGet, base+"/auth/check_jwt", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		return do(c, req)
	}
	if err := checkJWT(); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		for _, p := range steadyPaths {
			req, _ := http.NewRequest(http.MethodGet, base+p, nil)
			if err := do(c, req); err != nil {
				return err
			}
		}
		now := strconv.AppendInt(nil, time.Now().UnixNano(), 10)
		buf = buf[:0]
		for _, h := range heads {
			buf = append(buf, h...)
			buf = append(buf, now...)
			buf = append(buf, '\n')
		}
		if _, err := os.Stdout.Write(buf); err != nil {
			return err
		}
	}
	return in.Err()
}

// do sends req and reads its body to the end, so the connection is kept.
func do(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(req.URL.Path + ": " + resp.Status)
	}
	return nil
}
