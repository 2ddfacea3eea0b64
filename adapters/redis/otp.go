package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/platform"
)

var _ otp.Store = (*OTPStore)(nil)

// OTPStore is the otp.Store in Redis. A challenge is a hash under
// Key(tenant, "{"+key+"}") with its digest, subject, attempt limit and
// wrong-attempt count, expiring with its TTL; its cooldown is a key beside
// it (the braces put both in one Cluster slot, so one script may touch
// both); a destination's daily count is a counter that lives 25 hours.
// Each step is one Lua script, so it is atomic on the server.
type OTPStore struct{ c Client }

// NewOTPStore returns the store kept in c.
func NewOTPStore(c Client) *OTPStore { return &OTPStore{c: c} }

// reserveDay takes one of the destination's daily secrets: it counts one
// unless the count is at the cap (ARGV[1]); the count lives 25 hours from
// the first.
var reserveDay = goredis.NewScript(`
local n = tonumber(redis.call("GET", KEYS[1]) or "0")
if n >= tonumber(ARGV[1]) then return 0 end
redis.call("INCR", KEYS[1])
if n == 0 then redis.call("PEXPIRE", KEYS[1], 90000000) end
return 1
`)

// storeChallenge stores the challenge unless its cooldown runs, and
// starts the cooldown: returns the cooldown left in ms (0 when stored).
// KEYS: challenge, cooldown. ARGV: digest, subject, max attempts, ttl ms,
// cooldown ms.
var storeChallenge = goredis.NewScript(`
local left = redis.call("PTTL", KEYS[2])
if left > 0 then return left end
if tonumber(ARGV[5]) > 0 then redis.call("SET", KEYS[2], "1", "PX", ARGV[5]) end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "d", ARGV[1], "s", ARGV[2], "m", ARGV[3], "w", 0)
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 0
`)

// consume counts a submission and consumes a match, in one step: returns
// {verdict, subject} with verdict 1 consumed, 2 wrong, 3 dead, 4 missing.
// The comparison is of HMAC digests under the tenant's secret key, which
// a guesser cannot steer byte by byte, so equality here leaks nothing
// about the code; it is also made in this script so that the count, the
// check and the consume cannot be pulled apart by concurrent submissions.
var consume = goredis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {4, ""} end
local f = redis.call("HMGET", KEYS[1], "d", "s", "m", "w")
if tonumber(f[4]) >= tonumber(f[3]) then return {3, ""} end
if f[1] == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return {1, f[2]}
end
redis.call("HINCRBY", KEYS[1], "w", 1)
return {2, ""}
`)

func challengeKeys(tenantID, key string) (challenge, cooldown string) {
	tagged := "{" + key + "}"
	return Key(tenantID, tagged), Key(tenantID, tagged, "cd")
}

// Issue stores c unless its key is cooling down or dayKey is at its cap.
// The daily secret is reserved first and given back when the cooldown
// refuses, so the count ends up counting exactly the stored issues.
func (s *OTPStore) Issue(ctx context.Context, tenantID string, c otp.Challenge, cooldown time.Duration, dayKey string, dailyCap int) (time.Duration, bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	day := Key(tenantID, dayKey)
	ok, err := reserveDay.Run(ctx, s.c, []string{day}, dailyCap).Int()
	if err != nil {
		return 0, false, fmt.Errorf("otp: reserve: %w", err)
	}
	if ok == 0 {
		return 0, true, nil
	}
	ch, cd := challengeKeys(tenantID, c.Key)
	left, err := storeChallenge.Run(ctx, s.c, []string{ch, cd}, c.Digest, c.Subject, c.MaxAttempts, ms(c.TTL), ms(cooldown)).Int64()
	if err != nil {
		_ = s.c.Decr(context.WithoutCancel(ctx), day).Err()
		return 0, false, fmt.Errorf("otp: store: %w", err)
	}
	if left > 0 {
		if err := s.c.Decr(ctx, day).Err(); err != nil {
			return 0, false, fmt.Errorf("otp: give back: %w", err)
		}
		return time.Duration(left) * time.Millisecond, false, nil
	}
	return 0, false, nil
}

// Consume counts a submission and consumes the challenge when it matches.
func (s *OTPStore) Consume(ctx context.Context, tenantID, key, digest string) (otp.Verdict, string, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	ch, _ := challengeKeys(tenantID, key)
	res, err := consume.Run(ctx, s.c, []string{ch}, digest).Slice()
	if err != nil {
		return 0, "", fmt.Errorf("otp: consume: %w", err)
	}
	if len(res) != 2 {
		return 0, "", fmt.Errorf("otp: consume: unexpected answer %v", res)
	}
	v, _ := res[0].(int64)
	subject, _ := res[1].(string)
	return otp.Verdict(v), subject, nil
}

// peek answers {1, subject} for a live challenge with the digest, else
// {0, ""}; it changes nothing. KEYS: challenge. ARGV: digest.
var peek = goredis.NewScript(`
local f = redis.call("HMGET", KEYS[1], "d", "s", "m", "w")
if not f[1] or tonumber(f[4]) >= tonumber(f[3]) or f[1] ~= ARGV[1] then return {0, ""} end
return {1, f[2]}
`)

// Peek reports the subject of a live challenge with the digest.
func (s *OTPStore) Peek(ctx context.Context, tenantID, key, digest string) (string, bool, error) {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	ch, _ := challengeKeys(tenantID, key)
	res, err := peek.Run(ctx, s.c, []string{ch}, digest).Slice()
	if err != nil {
		return "", false, fmt.Errorf("otp: peek: %w", err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("otp: peek: unexpected answer %v", res)
	}
	live, _ := res[0].(int64)
	subject, _ := res[1].(string)
	return subject, live == 1, nil
}

// ms is d in whole milliseconds, at least 1 for a positive d.
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// withdraw removes the challenge if it still has the digest, ends its
// cooldown and gives the daily secret back. KEYS: challenge, cooldown.
var withdraw = goredis.NewScript(`
if redis.call("HGET", KEYS[1], "d") ~= ARGV[1] then return 0 end
redis.call("DEL", KEYS[1], KEYS[2])
return 1
`)

// Withdraw takes back an undelivered issue.
func (s *OTPStore) Withdraw(ctx context.Context, tenantID, key, digest, dayKey string) error {
	ctx, cancel := platform.BoundStore(ctx)
	defer cancel()
	ch, cd := challengeKeys(tenantID, key)
	n, err := withdraw.Run(ctx, s.c, []string{ch, cd}, digest).Int()
	if err != nil {
		return fmt.Errorf("otp: withdraw: %w", err)
	}
	if n == 1 {
		if err := giveBackDay.Run(ctx, s.c, []string{Key(tenantID, dayKey)}).Err(); err != nil {
			return fmt.Errorf("otp: withdraw: give back: %w", err)
		}
	}
	return nil
}

// giveBackDay takes one from a destination's daily count, never below 0.
var giveBackDay = goredis.NewScript(`
local n = tonumber(redis.call("GET", KEYS[1]) or "0")
if n > 0 then redis.call("DECR", KEYS[1]) end
return 1
`)
