package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// pinCmd is 'pin': show the certificate each gateway presents beside the
// pinned one, and with --accept pin the presented one (a person's decision,
// after the gateway renewed its certificate). It sends no request and no token.
func pinCmd(args []string, env Env) int {
	var c common
	fs := newGatewayFlags("pin", &c)
	accept := fs.Bool("accept", false, "pin the certificate the gateway presents now")
	set, list, log, code := c.parseSelected(fs, args, env)
	if code != exitOK {
		return code
	}
	defer set.Stop()
	if *accept && len(list) > 1 {
		return usageError(
			env,
			fmt.Errorf("--accept needs --gateway when the file has %d gateways: accept one certificate at a time, after checking it", len(list)),
		)
	}
	for _, e := range list {
		st, err := enphase.NewService(e).CheckPin(context.Background(), *accept)
		if st.Presented.Fingerprint.IsZero() {
			log.Errorf("%s: %v", e.Name(), err)
			code = exitFail
			continue
		}
		printPin(env, e, st)
		switch {
		case err != nil:
			log.Errorf("%s: %v", e.Name(), err)
			code = exitFail
		case st.Pinned != nil && !st.Match():
			code = exitFail
		}
	}
	return code
}

func printPin(env Env, e *enphase.Enphase, st enphase.PinState) {
	p := st.Presented
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", e.Name())
	fmt.Fprintf(&b, "  presented: SHA256 %s (%s, valid until %s)\n", p.Fingerprint, p.Subject, p.NotAfter.Format("2006-01-02"))
	switch {
	case st.Setting == "":
		fmt.Fprintf(&b, "  pinned:    none, tls_pin is not set (to pin this certificate: tls_pin = \"tofu\", or tls_pin = \"sha256:%s\")\n", p.Fingerprint)
	case st.Pinned == nil:
		fmt.Fprintf(&b, "  pinned:    none yet: the first connection pins the certificate it is presented, in %s (or run pin --accept)\n", st.File)
	case st.File == "":
		fmt.Fprintf(&b, "  pinned:    SHA256 %s (tls_pin)\n", st.Pinned.Fingerprint)
	default:
		fmt.Fprintf(&b, "  pinned:    SHA256 %s (%s)\n", st.Pinned.Fingerprint, describe(*st.Pinned, st.File))
	}
	switch {
	case st.Accepted:
		fmt.Fprintf(&b, "  match:     yes, accepted now\n")
	case st.Pinned == nil:
	case st.Match():
		fmt.Fprintf(&b, "  match:     yes\n")
	case st.File == "":
		fmt.Fprintf(
			&b,
			"  match:     NO: the gateway's certificate changed. If the gateway renewed it (about once a year), set tls_pin = \"sha256:%s\"; "+
				"otherwise something is intercepting the connection\n",
			p.Fingerprint,
		)
	default:
		fmt.Fprintf(
			&b,
			"  match:     NO: the gateway's certificate changed. If the gateway renewed it (about once a year), accept it with --accept; "+
				"otherwise something is intercepting the connection\n",
		)
	}
	fmt.Fprint(env.Stdout, b.String())
}

// describe says where and when a pinned certificate was first seen.
func describe(r certpin.Record, file string) string {
	parts := []string{}
	if r.Subject != "" {
		parts = append(parts, r.Subject)
	}
	if !r.FirstSeen.IsZero() {
		parts = append(parts, "first seen "+r.FirstSeen.Format("2006-01-02")+" at "+r.Host)
	}
	if r.Pinned != "" {
		parts = append(parts, r.Pinned)
	}
	parts = append(parts, "in "+file)
	return strings.Join(parts, ", ")
}
