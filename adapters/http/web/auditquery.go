package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/domain/errs"
)

// AuditQuery reads what an audit listing's query shares on every surface:
// type (repeated, or comma-separated), since and until (RFC 3339), limit
// and cursor. The strings are copies (Fiber reuses the request's). Bad
// values are one errs.Invalid error naming each field; what the stream
// accepts (known types, bounds) is the audit.Service's to check.
func AuditQuery(c *fiber.Ctx) (f audit.Filter, cursor string, limit int, err error) {
	for _, v := range c.Context().QueryArgs().PeekMulti("type") {
		for _, t := range strings.Split(string(v), ",") {
			if t = strings.TrimSpace(t); t != "" {
				f.Types = append(f.Types, audit.Type(t))
			}
		}
	}
	var fields []errs.FieldError
	var bad *errs.FieldError
	if f.Since, bad = TimeParam(c, "since"); bad != nil {
		fields = append(fields, *bad)
	}
	if f.Until, bad = TimeParam(c, "until"); bad != nil {
		fields = append(fields, *bad)
	}
	limit, err = LimitParam(c)
	if err != nil {
		fields = append(fields, errs.As(err).Fields...)
	}
	if len(fields) > 0 {
		return audit.Filter{}, "", 0, errs.InvalidFields(fields...)
	}
	return f, strings.Clone(c.Query("cursor")), limit, nil
}

// TimeParam reads an RFC 3339 time query parameter: zero when absent.
func TimeParam(c *fiber.Ctx, name string) (time.Time, *errs.FieldError) {
	raw := c.Query(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, &errs.FieldError{Field: name, Reason: "must be an RFC 3339 time such as 2025-01-02T15:04:05Z"}
	}
	return t, nil
}

// LimitParam reads the limit query parameter: 0 when absent.
func LimitParam(c *fiber.Ctx) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, errs.InvalidFields(errs.FieldError{Field: "limit", Reason: "must be a whole number"})
	}
	return n, nil
}
