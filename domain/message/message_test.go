package message_test

import (
	"testing"

	"github.com/portcullis/portcullis/domain/message"
)

func TestMailKindValid(t *testing.T) {
	t.Parallel()
	seen := map[message.MailKind]bool{}
	for _, k := range message.MailKinds() {
		if !k.Valid() {
			t.Errorf("%q: not valid", k)
		}
		if seen[k] {
			t.Errorf("%q: listed twice", k)
		}
		seen[k] = true
	}
	if len(seen) != 11 {
		t.Errorf("got %d kinds, want 11", len(seen))
	}
	for _, k := range []message.MailKind{"", "reset", "Verification", "verification "} {
		if k.Valid() {
			t.Errorf("%q: valid, want not", k)
		}
	}
}
