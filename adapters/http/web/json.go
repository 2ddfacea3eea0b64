package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/domain/errs"
)

// DecodeJSON reads a JSON object body into dst. Unknown fields are ignored
// (a client cannot set what the DTO does not have); a wrong type names the
// field; anything but a JSON object is refused.
func DecodeJSON(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "is required: send a JSON object"})
	}
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if ct != "" && !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return fromFiber(fiber.ErrUnsupportedMediaType)
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
