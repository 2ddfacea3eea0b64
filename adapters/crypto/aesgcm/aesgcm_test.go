package aesgcm_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	s, err := aesgcm.New(key)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.Seal([]byte("seed"), []byte("tenant-a/kid"))
	if err != nil {
		t.Fatal(err)
	}
	ct2, _ := s.Seal([]byte("seed"), []byte("tenant-a/kid"))
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of one plaintext must differ (random nonce)")
	}
	if bytes.Contains(ct, []byte("seed")) {
		t.Fatal("plaintext visible in ciphertext")
	}
	pt, err := s.Open(ct, []byte("tenant-a/kid"))
	if err != nil || string(pt) != "seed" {
		t.Fatalf("open: %q %v", pt, err)
	}

	other, _ := aesgcm.New(bytes.Repeat([]byte{8}, 32))
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other additional data": func() ([]byte, error) { return s.Open(ct, []byte("tenant-b/kid")) },
		"other key":             func() ([]byte, error) { return other.Open(ct, []byte("tenant-a/kid")) },
		"tampered":              func() ([]byte, error) { return s.Open(tampered, []byte("tenant-a/kid")) },
		"truncated":             func() ([]byte, error) { return s.Open(ct[:10], []byte("tenant-a/kid")) },
		"empty":                 func() ([]byte, error) { return s.Open(nil, nil) },
	} {
		if _, err := open(); !errors.Is(err, aesgcm.ErrOpen) {
			t.Errorf("%s: want ErrOpen, got %v", name, err)
		}
	}
}

func TestNewRejectsWrongKeySize(t *testing.T) {
	t.Parallel()
	if _, err := aesgcm.New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key must be refused: the platform promises AES-256")
	}
}
