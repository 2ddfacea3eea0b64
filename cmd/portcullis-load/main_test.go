package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePhases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		want  []string
		err   string
		users bool
		hash  bool
	}{
		{in: "all", want: allGroups, users: true, hash: true},
		{in: "storm", want: []string{"storm"}, users: true, hash: true},
		{in: "storefront", want: []string{"storefront"}, hash: true},
		{in: " sms , storefront,login", want: []string{"login", "sms", "storefront"}, users: true, hash: true},
		{in: " sms , storm,login", want: []string{"login", "sms", "storm"}, users: true, hash: true},
		{in: "me", want: []string{"me"}, users: true},
		{in: "sms", want: []string{"sms"}},
		{in: "sms,all", want: allGroups, users: true, hash: true},
		{in: "sms,bogus", err: `unknown phase "bogus"`},
		{in: "", err: "no phase"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parsePhases(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.list(), tt.want) || got.needUsers() != tt.users || got.needHash() != tt.hash {
				t.Errorf("phases %v, users %v, hash %v; want %v, %v, %v", got.list(), got.needUsers(), got.needHash(), tt.want, tt.users, tt.hash)
			}
		})
	}
}
