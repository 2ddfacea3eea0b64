package v1

import (
	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/profile"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/link"
)

// registerProfile adds the routes of a signed-in user's own account.
func (h handlers) registerProfile(g fiber.Router) {
	g.Patch("/me", h.patchMe)
	g.Post("/password/change", h.changePassword)
	g.Post("/email/change", h.changeEmail)
}

type patchMeRequest struct {
	// A name left out keeps its value; both are checked as at
	// registration.
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
}

func (h handlers) patchMe(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req patchMeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.FirstName == nil && req.LastName == nil {
		return errs.InvalidFields(errs.FieldError{Field: "first_name", Reason: "first_name or last_name is required"})
	}
	first, last := p.User.FirstName, p.User.LastName
	if req.FirstName != nil {
		first = *req.FirstName
	}
	if req.LastName != nil {
		last = *req.LastName
	}
	u, err := tenantOf(c).Profile.ChangeName(c.UserContext(), p, first, last)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"user": userJSON(u)})
}

type changePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// changePassword sets a new password; every other session of the user
// ends, the current one stays.
func (h handlers) changePassword(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req changePasswordRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).Profile.ChangePassword(c.UserContext(), p, req.OldPassword, req.NewPassword); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type changeEmailRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// changeEmail moves the account to a new address, unverified until the
// link mailed to it is used; the old address is told.
func (h handlers) changeEmail(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req changeEmailRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := tenantOf(c).Profile.ChangeEmail(c.UserContext(), p, profile.ChangeEmailInput{Email: req.Email, Password: req.Password, Paths: link.Canonical})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"user": userJSON(u)})
}
