package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/portcullis/portcullis/domain/errs"
)

// storeErr reports a driver error of the operation op. An error that says
// the store could not be reached or did not answer in time — no server
// could be selected, the network failed, the deadline passed, the client is
// closed, the primary is stepping down — becomes errs.ErrUnavailable, so
// that the client is told to retry (503 with Retry-After) rather than that
// the server failed. Anything else stays an internal error. Core errors
// (errs.ErrNotFound, conflicts) are not driver errors and never pass here.
func storeErr(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if unreachable(err) {
		return errs.ErrUnavailable.Wrap(err)
	}
	return err
}

// unreachable reports whether err means the store was out of reach, as
// opposed to a command it refused.
func unreachable(err error) bool {
	var (
		sse topology.ServerSelectionError
		ce  topology.ConnectionError
		cmd mongo.CommandError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), mongo.IsTimeout(err), mongo.IsNetworkError(err),
		errors.Is(err, mongo.ErrClientDisconnected), errors.As(err, &sse), errors.As(err, &ce):
		return true
	case errors.As(err, &cmd):
		return failoverCodes[cmd.Code]
	}
	return false
}

// failoverCodes are the server's error codes for a node that is shutting
// down, stepping down or not (yet) the primary: a retry soon succeeds.
var failoverCodes = map[int32]bool{
	6:     true, // HostUnreachable
	7:     true, // HostNotFound
	89:    true, // NetworkTimeout
	91:    true, // ShutdownInProgress
	189:   true, // PrimarySteppedDown
	10107: true, // NotWritablePrimary
	11600: true, // InterruptedAtShutdown
	11602: true, // InterruptedDueToReplStateChange
	13435: true, // NotPrimaryNoSecondaryOk
	13436: true, // NotPrimaryOrSecondary
}
