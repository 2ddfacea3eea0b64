package mongo_test

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/audit/audittest"
)

func TestAuditStoreContract(t *testing.T) {
	audittest.RunLogContract(t, func(t *testing.T) audittest.Harness {
		db := freshDB(t)
		return audittest.Harness{Log: mongo.NewAuditStore(db), Sweep: func(ctx context.Context, now time.Time) error {
			_, err := db.Sweep(ctx, mongo.Indexes, now)
			return err
		}}
	})
}
