package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// DecodeJSON reads a JSON object body into dst. The Content-Type must be
// application/json (a charset parameter, if any, utf-8); anything else,
// or none, is 415 unsupported_media_type. The body must be valid UTF-8 and
// free of \u escapes of unpaired UTF-16 surrogates: encoding/json would
// silently turn both into U+FFFD, so that different inputs decode to one
// value. Unknown fields are ignored (a client cannot set what the DTO does
// not have); a wrong type names the field; anything but a JSON object is
// refused.
func DecodeJSON(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "is required: send a JSON object"})
	}
	mt, err := mediaType(c, MIMEJSON)
	if err != nil {
		return err
	}
	if mt != MIMEJSON {
		return unsupportedType(MIMEJSON, mt)
	}
	if !utf8.Valid(body) {
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: identity.ReasonInvalidUTF8})
	}
	if loneSurrogate(body) {
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: `has a \u escape of an unpaired UTF-16 surrogate (\uD800-\uDFFF), which is not a character`})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "must hold a single JSON object"})
	}
	return nil
}

// loneSurrogate reports whether a JSON string in body holds a \u escape of
// a UTF-16 surrogate that is not a high surrogate directly followed by the
// escape of a low one. body is valid UTF-8; what is not valid JSON is left
// for the decoder to refuse.
func loneSurrogate(body []byte) bool {
	inString := false
	for i := 0; i < len(body); i++ {
		b := body[i]
		if !inString {
			inString = b == '"'
			continue
		}
		switch b {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(body) || body[i+1] != 'u' {
				i++ // an escaped character: skip it
				continue
			}
			r, ok := hex4(body[i+2:])
			if !ok || !utf16.IsSurrogate(r) {
				i++
				continue
			}
			if r >= 0xDC00 { // a low surrogate with no high one before it
				return true
			}
			if lo, ok := hex4(body[min(i+8, len(body)):]); ok && i+7 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11 // the pair
				continue
			}
			return true
		}
	}
	return false
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "must be a JSON object"})
		}
		return errs.InvalidFields(errs.FieldError{Field: field, Reason: "must be " + jsonKind(te.Type.Kind().String()) + ", got " + te.Value})
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "is not valid JSON"})
	}
	return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "is not valid JSON"})
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "a number"
}

// TimeOrNil is t in a JSON answer: RFC 3339 in UTC, or null when zero.
func TimeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// ServeDocument answers with doc, a JSON document (a surface's OpenAPI
// description).
func ServeDocument(doc []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(doc)
	}
}
