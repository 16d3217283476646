package token

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const serial = "122301234567"

var (
	issued  = time.Date(2024, 9, 3, 12, 0, 0, 0, time.UTC)
	expires = issued.Add(365 * 24 * time.Hour)
)

// baseClaims are what an Enphase owner token carries.
func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"aud":         serial,
		"iss":         "Entrez",
		"enphaseUser": "owner",
		"username":    "owner@example.com",
		"iat":         issued.Unix(),
		"exp":         expires.Unix(),
		"jti":         "3f7a4b52-0000-4c3b-9a54-5b2d6c1e7f10",
	}
}

func sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("test-key"))
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(raw, "."))
	return raw
}

func TestParseAccepts(t *testing.T) {
	raw := sign(t, baseClaims())
	tests := []struct {
		name string
		in   string
	}{
		{name: "A2 raw JWT", in: raw},
		{name: "A3 leading and trailing spaces", in: "  " + raw + "  "},
		{name: "A3 trailing newline", in: raw + "\n"},
		{name: "A3 CRLF from a Windows editor", in: raw + "\r\n"},
		{name: "A3 blank lines and tabs around", in: "\n\n\t" + raw + "\n\n"},
		{name: "A3 Bearer prefix", in: "Bearer " + raw},
		{name: "A3 lowercase bearer prefix with extra spaces and newline", in: "bearer   " + raw + "\n"},
		{name: "A2 JSON wrapper from entrez-auth-token", in: `{"generation_time":1725364800,"token":"` + raw + `","expires_at":1756900800}`},
		{
			name: "A2 JSON wrapper pretty-printed with CRLF",
			in:   "{\r\n  \"generation_time\": 1725364800,\r\n  \"token\": \"" + raw + "\",\r\n  \"expires_at\": 1756900800\r\n}\r\n",
		},
		{name: "A3 JSON wrapper whose token has whitespace around it", in: `{"token":" ` + raw + `\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Parse(tt.in)
			require.NoError(t, err)
			require.Equal(t, raw, tok.Raw, "the compact JWT, trimmed and unwrapped")
			require.Equal(t, serial, tok.Serial)
		})
	}
}

func TestParseRejects(t *testing.T) {
	raw := sign(t, baseClaims())
	noExp := baseClaims()
	delete(noExp, "exp")
	noAud := baseClaims()
	delete(noAud, "aud")
	emptyAud := baseClaims()
	emptyAud["aud"] = ""

	tests := []struct {
		name    string
		in      string
		wantErr []string
	}{
		{name: "A2 empty", in: "", wantErr: []string{"token is empty", "entrez.enphaseenergy.com"}},
		{name: "A3 whitespace only", in: " \r\n\t", wantErr: []string{"token is empty"}},
		{name: "A2 JSON wrapper without token", in: `{"generation_time":1725364800,"expires_at":1756900800}`, wantErr: []string{`without a "token" key`}},
		{name: "A2 JSON wrapper with empty token", in: `{"token":""}`, wantErr: []string{`without a "token" key`}},
		{name: "A2 JSON wrapper with only whitespace token", in: `{"token":"  "}`, wantErr: []string{"token is empty"}},
		{name: "A2 broken JSON wrapper", in: `{"token":"` + raw, wantErr: []string{"looks like JSON but does not parse"}},
		{
			name:    "A2 HTML body",
			in:      "<!DOCTYPE html>\n<html><head><title>Enlighten</title></head><body>Sign in</body></html>",
			wantErr: []string{"HTML page, not a JWT"},
		},
		{name: "A2 HTML body after blank lines", in: "\r\n\r\n<html><body>error</body></html>", wantErr: []string{"HTML page"}},
		{name: "A2 error string", in: "Error: 401 Unauthorized", wantErr: []string{"(raw JWT) has 1 segment(s)", "3 separated by '.'"}},
		{
			name:    "A2 two segments, Not enough segments",
			in:      raw[:strings.LastIndex(raw, ".")],
			wantErr: []string{"(raw JWT) has 2 segment(s)", "whole token was copied"},
		},
		{name: "A2 two segments in the JSON wrapper names the form", in: `{"token":"aaaa.bbbb"}`, wantErr: []string{"(JSON wrapper) has 2 segment(s)"}},
		{name: "A2 four segments", in: raw + ".extra", wantErr: []string{"has 4 segment(s)"}},
		{name: "A3 space inside", in: raw[:20] + " " + raw[20:], wantErr: []string{"contains whitespace inside it", "one line"}},
		{name: "A3 line break inside", in: raw[:40] + "\n" + raw[40:], wantErr: []string{"contains whitespace inside it"}},
		{
			name:    "A3 CRLF inside the JSON wrapper token",
			in:      `{"token":"` + raw[:40] + `\r\n` + raw[40:] + `"}`,
			wantErr: []string{"(JSON wrapper) contains whitespace"},
		},
		{name: "A2 three segments of garbage", in: "not.a.jwt", wantErr: []string{"(raw JWT) is not a valid JWT"}},
		{name: "A1 no exp", in: sign(t, noExp), wantErr: []string{"no exp claim"}},
		{name: "E4 no aud", in: sign(t, noAud), wantErr: []string{"no aud claim", "gateway serial"}},
		{name: "E4 empty aud", in: sign(t, emptyAud), wantErr: []string{"no aud claim"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Parse(tt.in)
			require.Error(t, err)
			require.Equal(t, Token{}, tok)
			for _, s := range tt.wantErr {
				require.Contains(t, err.Error(), s)
			}
			require.NotContains(t, err.Error(), raw[strings.Index(raw, ".")+1:], "A2 messages never echo the token")
		})
	}
}

func TestParseClaims(t *testing.T) {
	raw := sign(t, baseClaims())
	tok, err := Parse(raw)
	require.NoError(t, err)
	require.Equal(t, raw, tok.Raw)
	require.Equal(t, serial, tok.Serial)
	require.Equal(t, "owner", tok.Role)
	require.Equal(t, "owner@example.com", tok.Username)
	require.True(t, tok.IssuedAt.Equal(issued), "iat %s", tok.IssuedAt)
	require.True(t, tok.Expires.Equal(expires), "exp %s", tok.Expires)
	require.Equal(t, "HS256", tok.Header["alg"])
	require.Equal(t, "3f7a4b52-0000-4c3b-9a54-5b2d6c1e7f10", tok.Claims["jti"])
	require.Equal(t, "Entrez", tok.Claims["iss"])
	require.Equal(t, serial, tok.Claims["aud"])

	t.Run("A7 installer token without iat", func(t *testing.T) {
		c := baseClaims()
		c["enphaseUser"] = "installer"
		c["aud"] = []string{"122309999999"}
		delete(c, "iat")
		delete(c, "username")
		tok, err := Parse(sign(t, c))
		require.NoError(t, err)
		require.Equal(t, "installer", tok.Role)
		require.Equal(t, "122309999999", tok.Serial, "aud as a list")
		require.True(t, tok.IssuedAt.IsZero())
		require.Empty(t, tok.Username)
	})
}

func TestExpiredRemainingA1(t *testing.T) {
	tok, err := Parse(sign(t, baseClaims()))
	require.NoError(t, err)
	tests := []struct {
		name      string
		now       time.Time
		expired   bool
		remaining time.Duration
	}{
		{name: "A1 at issue", now: issued, expired: false, remaining: 365 * 24 * time.Hour},
		{name: "A1 one second before exp", now: expires.Add(-time.Second), expired: false, remaining: time.Second},
		{name: "A1 exactly at exp", now: expires, expired: true, remaining: 0},
		{name: "A1 a day after exp", now: expires.Add(24 * time.Hour), expired: true, remaining: -24 * time.Hour},
		{name: "A1 other time zone, same instant", now: expires.Add(-time.Hour).In(time.FixedZone("UTC+10", 10*3600)), expired: false, remaining: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.expired, tok.Expired(tt.now))
			require.Equal(t, tt.remaining, tok.Remaining(tt.now))
		})
	}
}

func TestCheckSerialE4(t *testing.T) {
	tok, err := Parse(sign(t, baseClaims()))
	require.NoError(t, err)
	require.NoError(t, tok.CheckSerial(serial), "E4 match")
	require.NoError(t, tok.CheckSerial(""), "E4 unknown serial is not a mismatch")
	err = tok.CheckSerial("122309999999")
	require.Error(t, err)
	require.Equal(t, "token is for gateway 122301234567 but this gateway's serial is 122309999999: get a token for serial 122309999999", err.Error())
}

func TestStringHidesTokenA2(t *testing.T) {
	tok, err := Parse(sign(t, baseClaims()))
	require.NoError(t, err)
	require.Equal(t, "owner token for 122301234567, expires 2025-09-03T12:00:00Z", tok.String())
	wrapped := struct {
		Name string
		T    Token
	}{"gateway", tok}
	for _, s := range []string{
		tok.String(),
		fmt.Sprint(tok),
		fmt.Sprintf("%v", tok),
		fmt.Sprintf("%s", tok),
		fmt.Sprintf("%+v", tok),
		fmt.Sprintf("%v", &tok),
		fmt.Sprintf("%v", wrapped),
		fmt.Sprintf("%+v", wrapped),
		fmt.Errorf("using %v", tok).Error(),
	} {
		require.NotContains(t, s, tok.Raw)
		for _, part := range strings.Split(tok.Raw, ".") {
			require.NotContains(t, s, part)
		}
		require.Contains(t, s, "owner token for 122301234567")
	}
}

func writeFileAt(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	require.NoError(t, os.Chtimes(path, mtime, mtime))
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "envoy.jwt")
	ca, cb := baseClaims(), baseClaims()
	ca["jti"], cb["jti"] = "token-aaaa", "token-bbbb"
	rawA, rawB := sign(t, ca), sign(t, cb)
	require.Len(t, rawB, len(rawA), "same size, so only the mtime tells them apart")
	require.NotEqual(t, rawA, rawB)

	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	writeFileAt(t, path, rawA+"\n", t0)
	src := &FileSource{Path: path}

	tok, err := src.Token()
	require.NoError(t, err)
	require.Equal(t, rawA, tok.Raw, "A3 first read, trimmed")

	// Same size and mtime: the cached token is served, the file is not re-read.
	writeFileAt(t, path, rawB+"\n", t0)
	tok, err = src.Token()
	require.NoError(t, err)
	require.Equal(t, rawA, tok.Raw, "unchanged stat: cached")

	// A later mtime: re-read.
	writeFileAt(t, path, rawB+"\n", t0.Add(time.Minute))
	tok, err = src.Token()
	require.NoError(t, err)
	require.Equal(t, rawB, tok.Raw, "A1 renewed token picked up without restart")
	require.Equal(t, "token-bbbb", tok.Claims["jti"])

	// A different size with the same mtime is a change too.
	writeFileAt(t, path, "Bearer "+rawA+"\r\n", t0.Add(time.Minute))
	tok, err = src.Token()
	require.NoError(t, err)
	require.Equal(t, rawA, tok.Raw, "size change: re-read")

	// A renewal that replaces the file by rename (new inode) is seen even
	// when size and mtime are the same as before.
	tmp := filepath.Join(dir, "envoy.jwt.new")
	writeFileAt(t, tmp, "Bearer "+rawB+"\r\n", t0.Add(time.Minute))
	require.NoError(t, os.Rename(tmp, path))
	tok, err = src.Token()
	require.NoError(t, err)
	require.Equal(t, rawB, tok.Raw, "A1 rename over the file: re-read")

	// A broken file is an error naming the path, and is not sticky.
	writeFileAt(t, path, "<html>login</html>", t0.Add(2*time.Minute))
	_, err = src.Token()
	require.Error(t, err)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "HTML page")
	_, err2 := src.Token()
	require.Equal(t, err, err2, "the error is cached while the file is unchanged")

	writeFileAt(t, path, rawB, t0.Add(3*time.Minute))
	tok, err = src.Token()
	require.NoError(t, err)
	require.Equal(t, rawB, tok.Raw)

	// A removed file is an error naming the path.
	require.NoError(t, os.Remove(path))
	_, err = src.Token()
	require.Error(t, err)
	require.Contains(t, err.Error(), "token file")
	require.Contains(t, err.Error(), path)
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	raw := sign(t, baseClaims())
	tests := []struct {
		name    string
		content *string // nil: the file does not exist
		wantErr []string
	}{
		{name: "A3 token with CRLF", content: ptr(raw + "\r\n")},
		{name: "A2 JSON wrapper", content: ptr(`{"generation_time":1,"token":"` + raw + `","expires_at":2}`)},
		{name: "A2 missing file", wantErr: []string{"reading token file", "no such file"}},
		{name: "A2 empty file", content: ptr(""), wantErr: []string{"token is empty"}},
		{name: "A2 two segments", content: ptr("aaaa.bbbb\n"), wantErr: []string{"has 2 segment(s)"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("token-%d.jwt", i))
			if tt.content != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tt.content), 0o600))
			}
			tok, err := ReadFile(path)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, raw, tok.Raw)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), path, "the error names the file")
			for _, s := range tt.wantErr {
				require.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	tok, err := Parse(sign(t, baseClaims()))
	require.NoError(t, err)
	got, err := Static{T: tok}.Token()
	require.NoError(t, err)
	require.Equal(t, tok, got)
}

func ptr(s string) *string { return &s }
