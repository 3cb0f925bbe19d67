package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"integrations/service"
)

// spaceBody is the body of createSpace and updateSpaceById. Visibility is an
// extension: GitBook sets it elsewhere, this server here.
type spaceBody struct {
	Title        Optional[string]          `json:"title"`
	Emoji        Optional[string]          `json:"emoji"`
	Icon         Optional[string]          `json:"icon"`
	Visibility   Optional[string]          `json:"visibility"`
	EditMode     Optional[string]          `json:"editMode"`
	Language     Optional[string]          `json:"language"`
	DefaultLevel Optional[string]          `json:"defaultLevel"`
	MergeRules   Optional[json.RawMessage] `json:"mergeRules"`
}

func (b spaceBody) input() (service.SpaceInput, error) {
	in := service.SpaceInput{
		Title: b.Title.ptr(), Emoji: b.Emoji.ptr(), Icon: b.Icon.ptr(), Visibility: b.Visibility.ptr(),
		EditMode: b.EditMode.ptr(), Language: b.Language.ptr(), DefaultLevel: b.DefaultLevel.ptr(),
	}
	empty := ""
	if b.Emoji.Null {
		in.Emoji = &empty
	}
	if b.Icon.Null {
		in.Icon = &empty
	}
	if b.DefaultLevel.Null {
		guest := "guest"
		in.DefaultLevel = &guest
	}
	for field, o := range map[string]Optional[string]{"title": b.Title, "visibility": b.Visibility, "editMode": b.EditMode, "language": b.Language} {
		if o.Null {
			return in, invalid("%s cannot be null.", field)
		}
	}
	if b.MergeRules.Set {
		if err := checkMergeRules(b.MergeRules.Value); err != nil {
			return in, err
		}
		in.MergeRules = b.MergeRules.Value
	}
	return in, nil
}

// checkMergeRules checks the spec's MergeRulesSpaceConfiguration: inherit,
// none, or rules with a list of rules, each one a MergeRule.
func checkMergeRules(raw json.RawMessage) error {
	var m struct {
		Type  *string         `json:"type"`
		Rules json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.Type == nil {
		return invalid("mergeRules must be an object with a type.")
	}
	switch *m.Type {
	case "inherit", "none":
		return nil
	case "rules":
		var rules []json.RawMessage
		if err := json.Unmarshal(m.Rules, &rules); err != nil || rules == nil {
			return invalid("mergeRules.rules must be an array when mergeRules.type is rules.")
		}
		for n, rule := range rules {
			if err := checkMergeRule(rule); err != nil {
				return invalid("mergeRules.rules[%d]%s", n, err.Error())
			}
		}
		return nil
	}
	return invalid("mergeRules.type must be inherit, none or rules.")
}

// The spec's MergeRule kinds: those that name users, those that stand alone,
// and custom, which holds an expression.
var (
	userMergeRules   = []string{"require_specific_reviewers", "require_one_of_specific_reviewers", "allow_bypass"}
	simpleMergeRules = []string{"require_at_least_one_review", "require_at_least_one_approved_review", "require_all_reviews_approved",
		"require_agent_review", "require_up_to_date_change_request", "require_change_request_subject",
		"require_change_request_description", "require_author_to_merge"}
)

// maxExpressionLength is the spec's limit on a custom merge rule's expression.
const maxExpressionLength = 1024

// checkMergeRule checks one MergeRule; its error is the rest of a message
// that starts with the rule's path.
func checkMergeRule(raw json.RawMessage) error {
	var r struct {
		Rule       *string         `json:"rule"`
		Users      json.RawMessage `json:"users"`
		Expression json.RawMessage `json:"expression"`
		Message    json.RawMessage `json:"message"`
	}
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &r) != nil || r.Rule == nil {
		return errors.New(" must be an object with a rule.")
	}
	switch rule := *r.Rule; {
	case slices.Contains(userMergeRules, rule):
		var users []string
		if json.Unmarshal(r.Users, &users) != nil || users == nil {
			return fmt.Errorf(".users must be an array of user ids for the rule %s.", rule)
		}
	case slices.Contains(simpleMergeRules, rule):
	case rule == "custom":
		var expr, message *string
		if json.Unmarshal(r.Expression, &expr) != nil || expr == nil || utf8.RuneCountInString(*expr) > maxExpressionLength {
			return fmt.Errorf(".expression must be a string of at most %d characters for the rule custom.", maxExpressionLength)
		}
		if r.Message != nil && (json.Unmarshal(r.Message, &message) != nil || message == nil) {
			return errors.New(".message must be a string.")
		}
	default:
		return fmt.Errorf(".rule must be one of %s or custom, not %q.", strings.Join(append(slices.Clone(userMergeRules), simpleMergeRules...), ", "), truncate(rule))
	}
	return nil
}

func (s *Server) listSpaces(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	spaces, err := s.svc.Spaces(r.Context(), r.PathValue("organizationId"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(spaces, s.space))
	return nil
}

func (s *Server) createSpace(w http.ResponseWriter, r *http.Request) error {
	// The spec makes this body optional.
	var body spaceBody
	if err := decodeOptionalBody(r, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	sp, err := s.svc.CreateSpace(r.Context(), r.PathValue("organizationId"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.url("/v1/spaces/"+sp.ID))
	writeJSON(w, http.StatusCreated, s.space(sp))
	return nil
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request) error {
	sp, err := s.svc.Space(r.Context(), r.PathValue("spaceId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.space(sp))
	return nil
}

func (s *Server) updateSpace(w http.ResponseWriter, r *http.Request) error {
	var body spaceBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Emoji.Set && !body.Emoji.Null && body.Icon.Set && !body.Icon.Null {
		return invalid("Set either emoji or icon, not both.")
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	sp, err := s.svc.UpdateSpace(r.Context(), r.PathValue("spaceId"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.space(sp))
	return nil
}

func (s *Server) deleteSpace(w http.ResponseWriter, r *http.Request) error {
	deleted, err := s.svc.DeleteSpace(r.Context(), r.PathValue("spaceId"))
	if err != nil {
		return err
	}
	noContent(w, deleted)
	return nil
}

func (s *Server) listSpaceIntegrations(w http.ResponseWriter, r *http.Request) error {
	p, err := paging(r)
	if err != nil {
		return err
	}
	q, err := search(r)
	if err != nil {
		return err
	}
	found, err := s.svc.SpaceIntegrations(r.Context(), r.PathValue("spaceId"), q, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeList(found, s.integration))
	return nil
}

type integrationBlocksJSON struct {
	Name   string `json:"name"`
	Blocks any    `json:"blocks"`
}

func (s *Server) listSpaceIntegrationBlocks(w http.ResponseWriter, r *http.Request) error {
	found, err := s.svc.SpaceIntegrationBlocks(r.Context(), r.PathValue("spaceId"))
	if err != nil {
		return err
	}
	out := make([]integrationBlocksJSON, len(found))
	for n, b := range found {
		out[n] = integrationBlocksJSON{Name: b.Name, Blocks: orEmpty(b.Blocks)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
