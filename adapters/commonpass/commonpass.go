// Package commonpass is the common-password list that identity.CheckPassword
// refuses when a tenant sets reject_common: the 30,000 most common passwords
// that zxcvbn ranks, as shipped in github.com/trustelem/zxcvbn/frequency
// (FrequencyLists["passwords"]). trustelem/zxcvbn is a Go port of Dropbox's
// zxcvbn 4.4.2, which drew the list from Mark Burnett's ten-million-password
// corpus (xato.net); both are under the MIT licence (copyright 2012-2016 Dan
// Wheeler and Dropbox, Inc.; 2018 Vincent Vanackere and Trustelem).
//
// The list is copied into a set on first use. Importing the frequency
// package links zxcvbn's other word lists into the binary as well (about
// 90,000 more strings).
package commonpass

import (
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
	"golang.org/x/text/unicode/norm"

	"github.com/portcullis/portcullis/domain/identity"
)

var _ identity.CommonPasswords = (*List)(nil)

// List is a set of common passwords, each NFKC-normalised and lower-cased
// the way identity.CheckPassword prepares the password it looks up.
type List struct {
	set map[string]struct{}
}

var (
	defaultOnce sync.Once
	defaultList *List
)

// Default returns the zxcvbn list, built on the first call.
func Default() *List {
	defaultOnce.Do(func() { defaultList = newList(frequency.FrequencyLists["passwords"]) })
	return defaultList
}

func newList(entries []string) *List {
	set := make(map[string]struct{}, len(entries))
	for _, e := range entries {
		// The same order as the caller: NormalizePassword, then ToLower.
		if k := strings.ToLower(norm.NFKC.String(e)); k != "" {
			set[k] = struct{}{}
		}
	}
	return &List{set: set}
}

// Contains reports whether the password is on the list. It takes the
// password already NFKC-normalised and lower-cased; it does neither itself.
func (l *List) Contains(normalisedLowercase string) bool {
	_, ok := l.set[normalisedLowercase]
	return ok
}

// Len returns the number of distinct passwords on the list.
func (l *List) Len() int { return len(l.set) }
