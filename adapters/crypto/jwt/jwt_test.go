package jwt_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/portcullis/portcullis/adapters/crypto/jwt"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/keyring/keyringtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/signing"
)

// fakeSealer "encrypts" by prefixing the additional data; enough to let the
// key ring store and reopen real Ed25519 keys.
type fakeSealer struct{}

func (fakeSealer) Seal(pt, ad []byte) ([]byte, error) {
	return append(append(bytes.Clone(ad), 0), pt...), nil
}

func (fakeSealer) Open(ct, ad []byte) ([]byte, error) {
	prefix := append(bytes.Clone(ad), 0)
	if !bytes.HasPrefix(ct, prefix) {
		return nil, errors.New("authentication failed")
	}
	return bytes.Clone(ct[len(prefix):]), nil
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var (
	now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ttl = 15 * time.Minute
)

// world is two tenants, each with its own key ring and issuer.
type world struct {
	shop, other         *jwt.Issuer
	shopKey, otherKey   signing.Key
	shopRing, otherRing *keyring.Ring
}

func newWorld(t testing.TB) world {
	t.Helper()
	ctx := context.Background()
	store := keyringtest.NewMemoryStore() // one store, as in production; rings are per tenant
	var w world
	w.shopRing = keyring.New("shop", store, fakeSealer{}, fixedClock{now}, rand.Reader, keyring.Policy{})
	w.otherRing = keyring.New("other", store, fakeSealer{}, fixedClock{now}, rand.Reader, keyring.Policy{})
	var err error
	if w.shopKey, err = w.shopRing.Current(ctx); err != nil {
		t.Fatal(err)
	}
	if w.otherKey, err = w.otherRing.Current(ctx); err != nil {
		t.Fatal(err)
	}
	w.shop = jwt.New("shop", w.shopRing, fixedClock{now}, ttl)
	w.other = jwt.New("other", w.otherRing, fixedClock{now}, ttl)
	return w
}

var sample = session.AccessClaims{
	Subject:   "user-1",
	SessionID: "session-1",
	Role:      identity.RoleStaff,
	AMR:       []string{"pwd", "otp"},
	ID:        "jti-1",
}

func (w world) issue(t testing.TB, c session.AccessClaims) string {
	t.Helper()
	tok, err := w.shop.Issue(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// payload is what a genuine access token of tenant "shop" carries.
func payload() gojwt.MapClaims {
	return gojwt.MapClaims{
		"iss": "urn:portcullis:tenant:shop", "aud": []string{"shop"},
		"sub": "user-1", "sid": "session-1", "role": "staff", "amr": []string{"pwd"}, "jti": "jti-1",
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "typ": "access",
	}
}

func header(kid string) map[string]any { return map[string]any{"typ": "at+jwt", "kid": kid} }

// forge signs claims with any method and key, with the given header fields
// (alg comes from the method; a nil header value deletes the field).
func forge(t testing.TB, m gojwt.SigningMethod, key any, h map[string]any, c gojwt.MapClaims) string {
	t.Helper()
	tok := gojwt.NewWithClaims(m, c)
	for k, v := range h {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func with(c gojwt.MapClaims, k string, v any) gojwt.MapClaims {
	c = maps.Clone(c)
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestIssueVerifyRoundTripsAllClaims(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	in := sample
	in.IssuedAt = now.Add(-time.Minute)
	in.ExpiresAt = now.Add(5 * time.Minute)
	tok := w.issue(t, in)
	got, err := w.shop.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != in.Subject || got.SessionID != in.SessionID || got.Role != in.Role || !slices.Equal(got.AMR, in.AMR) ||
		got.ID != in.ID || !got.IssuedAt.Equal(in.IssuedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
	}
	if got.IssuedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
		t.Fatal("times must come back in UTC")
	}
}

func TestIssueDefaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	in := sample
	in.ID = ""
	a, b := w.issue(t, in), w.issue(t, in)
	ca, err := w.shop.Verify(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := w.shop.Verify(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(ca.ID); err != nil || len(raw) != 16 {
		t.Fatalf("jti %q is not 16 random bytes in base64url", ca.ID)
	}
	if ca.ID == cb.ID {
		t.Fatal("two tokens got the same jti")
	}
	if !ca.IssuedAt.Equal(now) || !ca.ExpiresAt.Equal(now.Add(ttl)) {
		t.Fatalf("iat %s exp %s, want the clock's now and now+ttl", ca.IssuedAt, ca.ExpiresAt)
	}
}

// TestIssuedTokenShape pins the wire format that other verifiers (API
// gateways reading the JWKS) rely on.
func TestIssuedTokenShape(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	parts := strings.Split(w.issue(t, sample), ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	var h map[string]any
	var c map[string]any
	for i, v := range []any{&h, &c} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != w.shopKey.ID || len(h) != 3 {
		t.Fatalf("header %v", h)
	}
	want := map[string]any{
		"iss": "urn:portcullis:tenant:shop", "aud": []any{"shop"}, "sub": "user-1", "sid": "session-1",
		"role": "staff", "amr": []any{"pwd", "otp"}, "jti": "jti-1", "typ": "access",
		"iat": float64(now.Unix()), "exp": float64(now.Add(ttl).Unix()),
	}
	for k, v := range want {
		gb, _ := json.Marshal(c[k])
		wb, _ := json.Marshal(v)
		if !bytes.Equal(gb, wb) {
			t.Errorf("claim %s = %s, want %s", k, gb, wb)
		}
	}
	if len(c) != len(want) {
		t.Errorf("claims %v, want exactly %v", c, want)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(w.shopKey.Public, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("signature does not verify with the published public key")
	}
}

func TestIssueRefusesNonsense(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		name string
		c    session.AccessClaims
	}{
		{"no subject", session.AccessClaims{SessionID: "s"}},
		{"no session", session.AccessClaims{Subject: "u"}},
		{"expires before issued", session.AccessClaims{Subject: "u", SessionID: "s", IssuedAt: now, ExpiresAt: now.Add(-time.Second)}},
		{"expires when issued", session.AccessClaims{Subject: "u", SessionID: "s", IssuedAt: now, ExpiresAt: now.Add(time.Millisecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tok, err := w.shop.Issue(context.Background(), tc.c); err == nil {
				t.Fatalf("Issue = %q, want an error", tok)
			}
		})
	}
}

// TestVerifyRefusesAttacks is the list of forged, foreign, stale and
// malformed tokens an access-token verifier must refuse.
func TestVerifyRefusesAttacks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	kid := w.shopKey.ID
	priv := w.shopKey.Private
	valid := w.issue(t, sample)
	parts := strings.Split(valid, ".")

	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	later := jwt.New("shop", w.shopRing, fixedClock{now.Add(ttl + jwt.Leeway + time.Second)}, ttl)
	ed := gojwt.SigningMethodEdDSA

	for _, tc := range []struct {
		name     string
		token    string
		verifier *jwt.Issuer // default w.shop
		cause    error       // when set, the wrapped cause must match it
	}{
		{name: "alg none", token: forge(t, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, header(kid), payload())},
		{name: "alg none with the genuine signature", token: b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2]},
		{name: "alg none upper case", token: b64(map[string]any{"alg": "NONE", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "."},
		{name: "HS256 keyed with the public key bytes", token: forge(t, gojwt.SigningMethodHS256, []byte(w.shopKey.Public), header(kid), payload())},
		{name: "HS256 keyed with the base64url public key", token: forge(t, gojwt.SigningMethodHS256, []byte(w.shopKey.PublicJWK().X), header(kid), payload())},
		{name: "RS256", token: forge(t, gojwt.SigningMethodRS256, rsaKey, header(kid), payload())},
		{name: "ES256", token: forge(t, gojwt.SigningMethodES256, ecKey, header(kid), payload())},
		{name: "Ed25519 alg spelled Ed25519", token: b64(map[string]any{"alg": "Ed25519", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2]},
		{name: "missing alg", token: b64(map[string]any{"typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2]},
		{name: "unknown kid", token: forge(t, ed, strangerKey, header(signing.Thumbprint(strangerKey.Public().(ed25519.PublicKey))), payload())},
		{name: "genuine kid, stranger's signature", token: forge(t, ed, strangerKey, header(kid), payload()), cause: gojwt.ErrTokenSignatureInvalid},
		{name: "kid path traversal", token: forge(t, ed, priv, header("../../x"), payload())},
		{name: "kid SQL injection", token: forge(t, ed, priv, header("' OR '1'='1"), payload())},
		{name: "kid NoSQL operator", token: forge(t, ed, priv, header(`{"$ne":null}`), payload())},
		{name: "kid with NUL", token: forge(t, ed, priv, header(kid+"\x00"), payload())},
		{name: "kid too long", token: forge(t, ed, priv, header(strings.Repeat("a", 65)), payload())},
		{name: "kid not a string", token: forge(t, ed, priv, map[string]any{"typ": "at+jwt", "kid": 42}, payload())},
		{name: "kid empty", token: forge(t, ed, priv, header(""), payload())},
		{name: "no kid", token: forge(t, ed, priv, map[string]any{"typ": "at+jwt", "kid": nil}, payload())},
		{name: "tenant A's token at tenant B", token: valid, verifier: w.other},
		{name: "tenant B's key claiming tenant A", token: forge(t, ed, w.otherKey.Private, header(w.otherKey.ID), payload())},
		{name: "tenant A's key with tenant B's claims at B", verifier: w.other,
			token: forge(t, ed, priv, header(kid), with(with(payload(), "iss", "urn:portcullis:tenant:other"), "aud", []string{"other"}))},
		{name: "expired", token: valid, verifier: later, cause: gojwt.ErrTokenExpired},
		{name: "expired and badly signed", verifier: later, cause: gojwt.ErrTokenSignatureInvalid,
			token: parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))},
		{name: "no exp", token: forge(t, ed, priv, header(kid), with(payload(), "exp", nil)), cause: gojwt.ErrTokenRequiredClaimMissing},
		{name: "iat far in the future", token: forge(t, ed, priv, header(kid), with(with(payload(), "iat", now.Add(time.Hour).Unix()), "exp", now.Add(2*time.Hour).Unix())), cause: gojwt.ErrTokenUsedBeforeIssued},
		{name: "nbf in the future", token: forge(t, ed, priv, header(kid), with(payload(), "nbf", now.Add(time.Hour).Unix())), cause: gojwt.ErrTokenNotValidYet},
		{name: "no iat", token: forge(t, ed, priv, header(kid), with(payload(), "iat", nil))},
		{name: "typ claim refresh", token: forge(t, ed, priv, header(kid), with(payload(), "typ", "refresh"))},
		{name: "typ claim missing", token: forge(t, ed, priv, header(kid), with(payload(), "typ", nil))},
		{name: "typ claim upper case", token: forge(t, ed, priv, header(kid), with(payload(), "typ", "ACCESS"))},
		{name: "typ header JWT", token: forge(t, ed, priv, map[string]any{"typ": "JWT", "kid": kid}, payload())},
		{name: "typ header missing", token: forge(t, ed, priv, map[string]any{"typ": nil, "kid": kid}, payload())},
		{name: "crit header", token: forge(t, ed, priv, map[string]any{"typ": "at+jwt", "kid": kid, "crit": []string{"exp"}}, payload())},
		{name: "tampered payload", token: parts[0] + "." + b64(with(payload(), "role", "admin")) + "." + parts[2], cause: gojwt.ErrTokenSignatureInvalid},
		{name: "tampered header", token: b64(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "x": 1}) + "." + parts[1] + "." + parts[2], cause: gojwt.ErrTokenSignatureInvalid},
		{name: "signature non-canonical base64", token: parts[0] + "." + parts[1] + "." + parts[2][:85] + flipLowBit(parts[2][85])},
		{name: "signature truncated", token: parts[0] + "." + parts[1] + "." + parts[2][:40]},
		{name: "signature empty", token: parts[0] + "." + parts[1] + "."},
		{name: "wrong audience", token: forge(t, ed, priv, header(kid), with(payload(), "aud", []string{"other"})), cause: gojwt.ErrTokenInvalidAudience},
		{name: "no audience", token: forge(t, ed, priv, header(kid), with(payload(), "aud", nil))},
		{name: "wrong issuer", token: forge(t, ed, priv, header(kid), with(payload(), "iss", "urn:portcullis:tenant:other")), cause: gojwt.ErrTokenInvalidIssuer},
		{name: "no subject", token: forge(t, ed, priv, header(kid), with(payload(), "sub", nil))},
		{name: "no session", token: forge(t, ed, priv, header(kid), with(payload(), "sid", nil))},
		{name: "no jti", token: forge(t, ed, priv, header(kid), with(payload(), "jti", nil))},
		{name: "sub not a string", token: forge(t, ed, priv, header(kid), with(payload(), "sub", 7))},
		{name: "empty string", token: ""},
		{name: "garbage", token: "not a token"},
		{name: "two segments", token: parts[0] + "." + parts[1]},
		{name: "four segments", token: valid + "." + parts[2]},
		{name: "padded base64", token: parts[0] + "." + parts[1] + "==." + parts[2]},
		{name: "oversized", token: parts[0] + "." + b64(with(payload(), "pad", strings.Repeat("x", jwt.MaxTokenLength))) + "." + parts[2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.verifier
			if v == nil {
				v = w.shop
			}
			got, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, session.ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", got, err)
			}
			t.Logf("refused: %v", err)
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("cause %v, want %v", err, tc.cause)
			}
			if got.Subject != "" || got.SessionID != "" {
				t.Fatalf("a refused token leaked claims %+v", got)
			}
		})
	}

	// The genuine token still passes: the cases above fail for their own
	// reasons, not because the fixture is broken.
	if _, err := w.shop.Verify(context.Background(), valid); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
	if _, err := w.shop.Verify(context.Background(), forge(t, ed, priv, header(kid), payload())); err != nil {
		t.Fatalf("a token forged with the genuine key and payload must pass: %v", err)
	}
}

func flipLowBit(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestVerifyToleratesSmallClockSkew(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok := w.issue(t, sample)
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"verifier slightly behind the issuer", now.Add(-jwt.Leeway + time.Second)},
		{"just before expiry plus leeway", now.Add(ttl + jwt.Leeway - time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := jwt.New("shop", w.shopRing, fixedClock{tc.at}, ttl)
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyAcceptsOlderKeysOfTheTenant(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// A ring whose current key is new but still holds the old one.
	newer := signing.NewKey("shop", 2, mustKey(t), now)
	rotated := rotatedSource{keys: []signing.Key{w.shopKey, newer}}
	old := w.issue(t, sample)
	v := jwt.New("shop", rotated, fixedClock{now}, ttl)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("a token signed with the previous key: %v", err)
	}
	tok, err := v.Issue(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.shop.Verify(context.Background(), tok); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("a ring that does not know the new key must refuse it, got %v", err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestKeySourceFailureIsNotAnInvalidToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok := w.issue(t, sample)
	outage := errors.New("key store unreachable")
	v := jwt.New("shop", failingSource{outage}, fixedClock{now}, ttl)
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, outage) || errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("Verify = %v; a client must not be told its token is invalid when we cannot read keys", err)
	}
	// Garbage is refused before the keys are needed.
	if _, err := v.Verify(context.Background(), "x.y.z"); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := v.Issue(context.Background(), sample); !errors.Is(err, outage) {
		t.Fatalf("Issue = %v, want the outage", err)
	}
}

func mustKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type rotatedSource struct{ keys []signing.Key }

func (r rotatedSource) Current(context.Context) (signing.Key, error) {
	return r.keys[len(r.keys)-1], nil
}

func (r rotatedSource) Lookup(_ context.Context, kid string) (signing.Key, bool, error) {
	for _, k := range r.keys {
		if k.ID == kid {
			return k, true, nil
		}
	}
	return signing.Key{}, false, nil
}

type failingSource struct{ err error }

func (f failingSource) Current(context.Context) (signing.Key, error) { return signing.Key{}, f.err }

func (f failingSource) Lookup(context.Context, string) (signing.Key, bool, error) {
	return signing.Key{}, false, f.err
}

func BenchmarkIssue(b *testing.B) {
	w := newWorld(b)
	for b.Loop() {
		if _, err := w.shop.Issue(context.Background(), sample); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	tok := w.issue(b, sample)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.shop.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// The key ring is the key source production wires in.
var _ jwt.KeySource = (*keyring.Ring)(nil)
