package throttle

import "net/netip"

// Keys of the mailed-link flows (password reset, address verification).
// A cooldown is a bucket of one event per cooldown window.

// ForgotIP is the key of password-reset requests from ip.
func ForgotIP(ip netip.Addr) string { return "forgot:ip:" + IPKey(ip) }

// ResetCooldown is the key of the password-reset cooldown of one address.
func ResetCooldown(emailKey string) string { return "forgot:cool:" + digest(emailKey) }

// VerifyIP is the key of requests, from ip, to mail a verification link to
// an address typed in (not the signed-in user's own).
func VerifyIP(ip netip.Addr) string { return "verify:ip:" + IPKey(ip) }

// VerifyCooldown is the key of the verification-mail cooldown of one
// address.
func VerifyCooldown(emailKey string) string { return "verify:cool:" + digest(emailKey) }

// SetupLinkUsed is the key of the one use of a set-password link (the
// admin CLI's), by a digest of its token: a bucket of one event that
// lasts as long as the link, so that of concurrent uses one gets through.
func SetupLinkUsed(token string) string { return "setup:used:" + digest(token) }
