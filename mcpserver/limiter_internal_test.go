package mcpserver

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// addressKeySlow is addressKey as it was written before its IPv4 shortcut:
// the reference the shortcut must agree with.
func addressKeySlow(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

func TestAddressKey(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":              "127.0.0.1",
		"203.0.113.9":            "203.0.113.9",
		"::ffff:203.0.113.9":     "203.0.113.9",
		"2001:db8:1:2:3:4:5:6":   "2001:db8:1:2::/64",
		"fe80::1%eth0":           "fe80::/64",
		"01.2.3.4":               "01.2.3.4", // not an address ParseAddr accepts: counted as it is
		"not-an-address":         "not-an-address",
		"0.0.0.0":                "0.0.0.0",
		"255.255.255.255":        "255.255.255.255",
		"::ffff:0a00:0001":       "10.0.0.1",
		"2001:DB8:0:0:0:0:0:1":   "2001:db8::/64",
		"2001:0db8:0000::1%zone": "2001:db8::/64",
	} {
		if got := addressKey(host); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", host, got, want)
		}
		if got, ref := addressKey(host), addressKeySlow(host); got != ref {
			t.Errorf("addressKey(%q) = %q, the reference says %q", host, got, ref)
		}
	}
	// Random dotted quads, with leading zeros and out-of-range octets now
	// and then: the shortcut agrees with the reference on every one.
	r := rand.New(rand.NewPCG(1, 2))
	octet := func() string {
		switch r.IntN(10) {
		case 0:
			return "0" + strconv.Itoa(r.IntN(256))
		case 1:
			return strconv.Itoa(256 + r.IntN(1000))
		default:
			return strconv.Itoa(r.IntN(256))
		}
	}
	for range 20000 {
		host := octet() + "." + octet() + "." + octet() + "." + octet()
		if got, ref := addressKey(host), addressKeySlow(host); got != ref {
			t.Fatalf("addressKey(%q) = %q, the reference says %q", host, got, ref)
		}
	}
}

// TestRateLimitHeadersApart: the two header values share one allocation;
// adding a value to one header leaves the other as it was.
func TestRateLimitHeadersApart(t *testing.T) {
	l := newLimiter(RateLimitConfig{Store: NewMemoryStore(MemoryStoreConfig{})}, slog.New(slog.DiscardHandler))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	lim := Limit{Rate: 10, Period: time.Minute, Burst: 10} // as validate leaves it
	if status := l.admit(w, r, "user:a", lim, policyHeader(lim), "user"); status != 0 {
		t.Fatalf("refused: %d", status)
	}
	h := w.Header()
	h.Add("RateLimit-Policy", "5;w=1")
	if got := h.Values("RateLimit"); len(got) != 1 || got[0] != "limit=10, remaining=9, reset=6" {
		t.Fatalf("RateLimit = %q", got)
	}
	if got := h.Values("RateLimit-Policy"); len(got) != 2 || got[0] != "10;w=60" {
		t.Fatalf("RateLimit-Policy = %q", got)
	}
}

// TestSetRateLimitHeaders: the RateLimit value is right whatever the
// numbers' length (one that outgrows the shared buffer included), each
// call's value stays as it was when another call follows, and a value that
// fits costs one allocation for both headers.
func TestSetRateLimitHeaders(t *testing.T) {
	cases := [][3]int{
		{10, 9, 6},
		{0, 0, 0},
		{1200, 1199, 60},
		{9_999_999, 9_999_999, 9_999_999},
		{99_999_999, 9_999_999, 9_999_999},
		{math.MaxInt, math.MinInt, math.MaxInt},
	}
	var kept []http.Header
	for _, c := range cases {
		h := http.Header{}
		setRateLimitHeaders(h, "p", c[0], c[1], c[2])
		kept = append(kept, h)
	}
	for i, c := range cases {
		want := fmt.Sprintf("limit=%d, remaining=%d, reset=%d", c[0], c[1], c[2])
		if got := kept[i].Values("RateLimit"); len(got) != 1 || got[0] != want {
			t.Errorf("%v: RateLimit = %q, want %q", c, got, want)
		}
		if got := kept[i].Values("RateLimit-Policy"); len(got) != 1 || got[0] != "p" {
			t.Errorf("%v: RateLimit-Policy = %q", c, got)
		}
	}
	h := http.Header{headerRateLimit: nil, headerRateLimitPolicy: nil}
	allocs := testing.AllocsPerRun(100, func() { setRateLimitHeaders(h, "1200;w=60", 9_999_999, 9_999_999, 9_999_999) })
	if allocs != 1 {
		t.Errorf("setRateLimitHeaders: %v allocations, want 1", allocs)
	}
}
