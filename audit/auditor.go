package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/idgate/idgate/internal/recent"
)

// MinSubjectKeyLen is the shortest SubjectKey New accepts, in bytes.
const MinSubjectKeyLen = 16

// DefaultMaxArgsBytes is the default for Config.MaxArgsBytes.
const DefaultMaxArgsBytes = 4096

// hashedSubjectBytes is how much of the HMAC-SHA256 of a subject is kept:
// 16 bytes, written as 32 hex digits.
const hashedSubjectBytes = 16

// Config configures an Auditor. Only SubjectKey is required.
type Config struct {
	// Logger receives the events. Default: slog.Default() as it is when New
	// is called.
	Logger *slog.Logger

	// SubjectKey is the HMAC-SHA256 key with which subjects are hashed
	// before they are written. Required, at least 16 bytes (32 random bytes
	// are a good choice). Keep it secret and stable: the same key gives the
	// same hash for a subject, so events of one user can be correlated
	// without the log naming the user; a new key breaks that correlation.
	// New copies it.
	SubjectKey []byte

	// Message is the slog message of every event. Default: "audit".
	Message string

	// Level is the slog level of every event. Default: slog.LevelInfo
	// (the zero value).
	Level slog.Level

	// SkipPaths lists URL paths (exact matches on r.URL.Path, such as
	// "/healthz") for which Middleware writes no event. OPTIONS requests
	// (CORS preflights) are not recorded either, unless answered with an
	// error status (a preflight the Origin policy refused). Skipped requests still
	// get a request id and panic recovery. Default: none.
	SkipPaths []string

	// MaxArgsBytes caps the JSON encoding of Event.Args. Larger arguments are
	// not written; the "args" attribute then says "[omitted: N bytes]".
	// Default (0): DefaultMaxArgsBytes. Negative: no limit.
	MaxArgsBytes int

	// OnWriteError, if set, is called with the error each time an event
	// could not be written: the logger's handler returned an error (with
	// JSONHandler: the writer failed, or wrote only part of the line).
	// The event is lost; the request it describes has been served. Use it
	// to alert, or to fail a health check, so that a full disk or a
	// closed pipe does not silently end the audit trail. It is called on
	// the goroutine that wrote the event (the request's; for a call of a
	// batch possibly go-sdk's, after the request has ended) and must not
	// block; a panic in it is recovered and dropped. Auditor.WriteErrors counts these failures
	// either way. Default: nil.
	OnWriteError func(error)
}

// An Auditor writes audit events. Create it with New; it is safe for
// concurrent use.
type Auditor struct {
	logger  *slog.Logger
	message string
	level   slog.Level
	// levelAndMessage is `"level":…,"msg":…` as slog's JSON handler
	// writes them, for JSONHandler's fast path.
	levelAndMessage []byte
	skipPaths       []string
	maxArgs         int
	hashers         sync.Pool // of *subjectHasher
	// recent remembers the hashes of recent subjects (a server sees the
	// same users again and again): a two-way set-associative table
	// indexed by a hash of the subject, read and written without locks.
	recent     [recentSubjects]atomic.Pointer[hashedSubject]
	recentSeed maphash.Seed
	// onWriteError and writeErrors report events that could not be
	// written (Config.OnWriteError, WriteErrors).
	onWriteError func(error)
	writeErrors  atomic.Uint64
}

// recentSubjects is the number of slots of Auditor.recent (a power of
// two: they go in pairs, see package internal/recent). 32 KiB of pointers per Auditor.
const recentSubjects = 4096

// hashedSubject is a subject and its keyed hash.
type hashedSubject struct{ subject, hash string }

// subjectHasher is an HMAC-SHA256 keyed with SubjectKey and its buffers,
// reused through Auditor.hashers so that hashing allocates only the result.
type subjectHasher struct {
	mac hash.Hash
	in  []byte
	sum []byte
}

// New validates cfg and returns an Auditor. It fails when SubjectKey is
// shorter than MinSubjectKeyLen.
func New(cfg Config) (*Auditor, error) {
	if len(cfg.SubjectKey) < MinSubjectKeyLen {
		return nil, fmt.Errorf("audit: Config.SubjectKey must be at least %d bytes (got %d); set it to a secret of 32 random bytes", MinSubjectKeyLen, len(cfg.SubjectKey))
	}
	a := &Auditor{
		logger:       cfg.Logger,
		message:      cfg.Message,
		level:        cfg.Level,
		skipPaths:    append([]string(nil), cfg.SkipPaths...),
		maxArgs:      cfg.MaxArgsBytes,
		recentSeed:   maphash.MakeSeed(),
		onWriteError: cfg.OnWriteError,
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.message == "" {
		a.message = "audit"
	}
	lm := appendJSONString([]byte(`"level":`), a.level.String())
	a.levelAndMessage = appendJSONString(append(lm, `,"msg":`...), a.message)
	if a.maxArgs == 0 {
		a.maxArgs = DefaultMaxArgsBytes
	}
	key := append([]byte(nil), cfg.SubjectKey...)
	a.hashers.New = func() any {
		return &subjectHasher{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size)}
	}
	return a, nil
}

// WriteErrors returns the number of events that could not be written
// since a was created (see Config.OnWriteError).
func (a *Auditor) WriteErrors() uint64 { return a.writeErrors.Load() }

// writeFailed records that an event could not be written. A panic of the
// callback is dropped: it would otherwise unwind through the audit
// middleware's deferred function, after the handler has answered, and
// net/http would close the connection with the answer still buffered.
func (a *Auditor) writeFailed(err error) {
	a.writeErrors.Add(1)
	if a.onWriteError != nil {
		defer func() { _ = recover() }()
		a.onWriteError(err)
	}
}

// HashSubject returns the keyed hash under which the subject sub is written:
// the first 16 bytes of HMAC-SHA256(SubjectKey, sub) as 32 lower-case hex
// digits. It is stable for a given key and "" for an empty sub. The hashes
// of recently seen subjects are remembered: hashing a subject again costs
// a table lookup and no allocation.
func (a *Auditor) HashSubject(sub string) string {
	if sub == "" {
		return ""
	}
	h := maphash.String(a.recentSeed, sub)
	pair := recent.Pair(a.recent[:], h) // two ways: the subject is in either slot
	for i := range pair {
		if r := pair[i].Load(); r != nil && r.subject == sub {
			return r.hash
		}
	}
	hash := a.hashSubject(sub)
	if len(sub) <= maxRememberedSubject {
		recent.Put(pair, h, &hashedSubject{subject: sub, hash: hash})
	}
	return hash
}

// maxRememberedSubject is the longest subject HashSubject remembers.
const maxRememberedSubject = 256

// hashSubject computes the keyed hash of sub.
func (a *Auditor) hashSubject(sub string) string {
	h := a.hashers.Get().(*subjectHasher)
	h.mac.Reset()
	h.in = append(h.in[:0], sub...)
	h.mac.Write(h.in)
	h.sum = h.mac.Sum(h.sum[:0])
	var out [2 * hashedSubjectBytes]byte
	hex.Encode(out[:], h.sum[:hashedSubjectBytes])
	if cap(h.in) <= 1024 { // do not keep a huge buffer for one odd subject
		a.hashers.Put(h)
	}
	return string(out[:])
}
