package integrations

import (
	"encoding/json"
	"net/url"
	"time"
	"unicode/utf8"
)

// Space is a unit of content in an organization; integrations are enabled on spaces.
type Space struct {
	ID             string
	OrganizationID string
	Title          string
	Emoji          string
	Icon           string
	Visibility     string
	EditMode       string
	Language       string
	DefaultLevel   string          // a Role, "guest" (null on the wire) or "inherit"
	MergeRules     json.RawMessage // the spec's MergeRulesSpaceConfiguration; nil means inherit
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Visibilities lists the spec's ContentVisibility values.
var Visibilities = []string{"public", "unlisted", "share-link", "visitor-auth", "in-collection", "private"}

// Languages lists the spec's TranslationLanguage values.
var Languages = []string{"en", "fr", "de", "es", "it", "pt", "pt-br", "ru", "ja", "zh", "zh-tw", "yue", "ko", "ar", "hi", "nl", "pl", "tr", "sv", "no", "da", "fi", "el", "cs", "hu", "ro", "th", "vi", "id", "ms", "he", "uk", "sk", "bg", "hr", "lt", "lv", "et", "sl"}

// Validate checks the space against the spec's limits.
func (s *Space) Validate() error {
	if s.ID != "" && !ValidID(s.ID) {
		return Errorf(EINVALID, "id %q is not a valid id (letters, digits, '_' and '-', at most %d characters)", s.ID, MaxIDLength)
	}
	if utf8.RuneCountInString(s.Title) > 50 {
		return Errorf(EINVALID, "title is longer than 50 characters")
	}
	if utf8.RuneCountInString(s.Emoji) > 50 {
		return Errorf(EINVALID, "emoji is longer than 50 characters")
	}
	if len(s.Icon) > 2048 {
		return Errorf(EINVALID, "icon is longer than 2048 characters")
	}
	if s.Icon != "" && !absoluteURL(s.Icon) {
		return Errorf(EINVALID, "icon must be an absolute http or https URL")
	}
	if !oneOf(s.Visibility, Visibilities...) {
		return Errorf(EINVALID, "visibility must be one of %v", Visibilities)
	}
	if s.EditMode != "" && !oneOf(s.EditMode, "live", "locked") {
		return Errorf(EINVALID, "editMode must be live or locked")
	}
	if s.Language != "" && !oneOf(s.Language, Languages...) {
		return Errorf(EINVALID, "language %q is not one of the spec's TranslationLanguage values", s.Language)
	}
	if s.DefaultLevel != "" && s.DefaultLevel != "inherit" && s.DefaultLevel != "guest" && !Role(s.DefaultLevel).Valid() {
		return Errorf(EINVALID, "defaultLevel must be inherit, guest or a member role")
	}
	return nil
}

// absoluteURL reports whether s is an absolute http or https URL, as the
// spec's URL (format uri) and a browser showing it both need.
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func oneOf(s string, values ...string) bool {
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}
