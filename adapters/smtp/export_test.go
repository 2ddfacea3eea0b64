package smtp

import "crypto/x509"

// WithRootCAs returns o trusting only pool's certificates (instead of the
// system's), for tests that run a server with a certificate they made.
// It is no way around verification: the certificate must still verify.
func WithRootCAs(o Options, pool *x509.CertPool) Options {
	o.rootCAs = pool
	return o
}
