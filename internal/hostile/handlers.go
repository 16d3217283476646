package hostile

import (
	"net/http"
	"strings"
	"time"
)

// Ready-made hostile answers. Any http.Handler will do; these are the ones
// more than one test needs.

// Body answers with status, content type and body.
func Body(status int, contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { write(w, status, contentType, body) })
}

// Status answers with status and a one-line text body, e.g. 400 or nginx's
// 431 "Request Header Or Cookie Too Large".
func Status(status int) http.Handler {
	return Body(status, "text/html", []byte(http.StatusText(status)+"\n"))
}

// Replace answers 200 with body (see CaptureBody) with its first old
// replaced by repl: a capture with one field made hostile.
func Replace(contentType string, body []byte, old, repl string) http.Handler {
	return Body(http.StatusOK, contentType, []byte(strings.Replace(string(body), old, repl, 1)))
}

// Endless answers 200 with a body that never ends: chunk, again and again,
// until the client goes away.
func Endless(contentType string, chunk []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
}

// Slow answers 200 with body, one byte every interval (a slowloris gateway).
func Slow(contentType string, body []byte, interval time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		f, _ := w.(http.Flusher)
		for _, b := range body {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
	})
}

// Redirect answers status (301, 302, 307...) with Location: location.
func Redirect(status int, location string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", location)
		w.WriteHeader(status)
	})
}

// Cookie wraps next, adding a Set-Cookie of name with a value of size bytes.
func Cookie(name string, size int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", name+"="+strings.Repeat("x", size)+"; Path=/")
		next.ServeHTTP(w, r)
	})
}
