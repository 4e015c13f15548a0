package mcpserver

import (
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/idgate/idgate/audit"
)

// limiter applies RateLimitConfig to requests.
type limiter struct {
	cfg    RateLimitConfig
	logger *slog.Logger
	// keys remembers the keys of recent callers.
	keys *limitKeys
	// policy headers, precomputed: "600;w=60"
	userPolicy, ipPolicy string
}

func newLimiter(cfg RateLimitConfig, logger *slog.Logger) *limiter {
	return &limiter{
		cfg:        cfg,
		logger:     logger,
		keys:       newLimitKeys(),
		userPolicy: policyHeader(cfg.User),
		ipPolicy:   policyHeader(cfg.IP),
	}
}

// policyHeader renders the RateLimit-Policy value of l: "<rate>;w=<seconds>".
func policyHeader(l Limit) string {
	if l.Rate == 0 {
		return ""
	}
	return strconv.Itoa(l.Rate) + ";w=" + strconv.Itoa(ceilSeconds(l.Period))
}

// allow counts one request under key and limit. When it returns false it
// has written the response (429 or 503) and recorded the audit decision.
// It sets the RateLimit headers on w either way.
func (l *limiter) allow(w http.ResponseWriter, r *http.Request, key string, limit Limit, policy, kind string) bool {
	return l.allowRest(w, r, key, limit, policy, kind, 0)
}

// allowRest is allow for a request that needs rest more requests at once
// after this one (the further calls of a JSON-RPC batch, which is sent
// again whole): a refusal's Retry-After is then the time until all of
// them fit, not only the next one.
func (l *limiter) allowRest(w http.ResponseWriter, r *http.Request, key string, limit Limit, policy, kind string, rest int) bool {
	switch status := l.admitRest(w, r, key, limit, policy, kind, rest); status {
	case 0:
		return true
	case http.StatusTooManyRequests:
		writeError(w, status, "rate limit exceeded")
	default:
		writeError(w, status, "rate limiter unavailable")
	}
	return false
}

// admit is allow without the response body: it returns 0 when the request
// may proceed, else the status to answer (429, or 503 when the store
// failed), with the headers already set and the audit decision recorded.
func (l *limiter) admit(w http.ResponseWriter, r *http.Request, key string, limit Limit, policy, kind string) int {
	return l.admitRest(w, r, key, limit, policy, kind, 0)
}

// admitRest is admit with allowRest's rest.
func (l *limiter) admitRest(w http.ResponseWriter, r *http.Request, key string, limit Limit, policy, kind string, rest int) int {
	res, err := l.cfg.Store.Allow(r.Context(), key, limit)
	if err != nil && r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away while the store answered: the store did
		// not fail, and nobody reads the answer.
		audit.EntryFrom(r.Context()).SetDecision(audit.Error, "client_gone")
		return http.StatusServiceUnavailable
	}
	if err != nil {
		// The key names a user or an address: log only its kind.
		l.logger.LogAttrs(r.Context(), slog.LevelError, "mcpserver: rate-limit store failed",
			slog.String("limit", kind), slog.Bool("fail_open", l.cfg.FailOpen), slog.String("error", err.Error()))
		if l.cfg.FailOpen {
			return 0
		}
		audit.EntryFrom(r.Context()).SetDecision(audit.Error, "rate_limit_store")
		w.Header().Set("Retry-After", "1")
		return http.StatusServiceUnavailable
	}
	// The RateLimit limit is the quota remaining counts down from and
	// reset refers to: the burst (limit has its defaults applied), which
	// differs from the rate the policy names when Burst is set.
	setRateLimitHeaders(w.Header(), policy, limit.Burst, res.Remaining, ceilSeconds(res.Reset))
	if res.Allowed {
		return 0
	}
	// Refused, the caller has less than one request left: the first comes
	// back after RetryAfter, each further one an interval later.
	retry := res.RetryAfter + time.Duration(rest)*limit.interval()
	w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(retry))))
	audit.EntryFrom(r.Context()).SetDecision(audit.RateLimited, kind+"_rate_limited")
	return http.StatusTooManyRequests
}

// Header keys of the rate limit, in canonical form (the IETF draft writes
// them "RateLimit" and "RateLimit-Policy"; header names are
// case-insensitive).
const (
	headerRateLimit       = "Ratelimit"
	headerRateLimitPolicy = "Ratelimit-Policy"
)

// rateLimitHeaders is what setRateLimitHeaders allocates: both header
// values, and the bytes of the RateLimit value when they fit.
type rateLimitHeaders struct {
	vals [2]string
	buf  [rateLimitValueLen]byte
}

// rateLimitValueLen is room for a RateLimit value of numbers up to seven
// digits ("limit=…, remaining=…, reset=…"), which makes rateLimitHeaders
// 80 bytes, a size class of the allocator; a longer value gets bytes of
// its own.
const rateLimitValueLen = 48

// setRateLimitHeaders sets RateLimit-Policy to policy and RateLimit to
// "limit=<limit>, remaining=<remaining>, reset=<seconds>", with one
// allocation for both. The keys are set directly in canonical form
// (Header.Set would canonicalise "RateLimit" into a new string every
// time), and each value's slice is capped so that an Add to one cannot
// write into the other.
func setRateLimitHeaders(h http.Header, policy string, limit, remaining, reset int) {
	v := new(rateLimitHeaders)
	b := appendRateLimitValue(v.buf[:0], limit, remaining, reset)
	v.vals[0] = policy
	// b is in v.buf, or in an array of its own when it outgrew it;
	// nothing writes to either after this.
	v.vals[1] = unsafe.String(unsafe.SliceData(b), len(b))
	h[headerRateLimitPolicy] = v.vals[0:1:1]
	h[headerRateLimit] = v.vals[1:2:2]
}

// appendRateLimitValue appends the RateLimit header value
// "limit=<limit>, remaining=<remaining>, reset=<seconds>" to b.
func appendRateLimitValue(b []byte, limit, remaining, reset int) []byte {
	b = append(b, "limit="...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, ", remaining="...)
	b = strconv.AppendInt(b, int64(remaining), 10)
	b = append(b, ", reset="...)
	return strconv.AppendInt(b, int64(reset), 10)
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// byIP wraps next with the per-address limit.
func (l *limiter) byIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.admitIP(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// admitIP is byIP's check: it reports whether the request goes on, having
// refused it otherwise.
func (l *limiter) admitIP(w http.ResponseWriter, r *http.Request) bool {
	return l.allow(w, r, l.keys.key("ip:", addressKey(l.clientIP(r)), "", ""), l.cfg.IP, l.ipPolicy, "ip")
}

// byIPWith is byIP with refuse writing the body of a refusal.
func (l *limiter) byIPWith(next http.Handler, refuse func(http.ResponseWriter, *http.Request, int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status := l.admit(w, r, l.keys.key("ip:", addressKey(l.clientIP(r)), "", ""), l.cfg.IP, l.ipPolicy, "ip"); status != 0 {
			refuse(w, r, status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP returns the address requests are counted under: the peer
// address, or, when the peer is a trusted proxy, the right-most
// X-Forwarded-For entry that is not a trusted proxy.
func (l *limiter) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(l.cfg.TrustedProxies) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !l.trusted(peer) {
		return host
	}
	// From the right, entry by entry, across the header's lines, without
	// splitting the whole of it (it comes before authentication).
	values := r.Header.Values("X-Forwarded-For")
	for v := len(values) - 1; v >= 0; v-- {
		rest := values[v]
		for {
			hop := rest
			i := strings.LastIndexByte(rest, ',')
			if i >= 0 {
				hop, rest = rest[i+1:], rest[:i]
			}
			a, ok := forwardedAddr(strings.TrimSpace(hop))
			if !ok {
				return host // garbage: stop believing the header here
			}
			if !l.trusted(a) {
				return a.Unmap().String()
			}
			if i < 0 {
				break
			}
		}
	}
	return host
}

// forwardedAddr reads one X-Forwarded-For entry: an address, or an
// address and port as some proxies write them ("203.0.113.5:4711",
// "[2001:db8::1]:4711"), which would otherwise end the scan and count
// every client as the proxy.
func forwardedAddr(hop string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(hop); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

// addressKey is what the per-address limit counts for a client address:
// the address itself for IPv4 (and IPv4-mapped IPv6), the /64 for IPv6,
// since a host usually holds a whole /64 and may send from any address in
// it.
func addressKey(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a.Is4() {
		// Dotted decimal as ParseAddr accepts it (no leading zeros)
		// is already the address's canonical form, a.String().
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

func (l *limiter) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
