package sqlstore

import (
	"context"
	"fmt"
)

// signedOut is what signing users out ended: their bearer tokens (those
// issued to the users by ID, those issued for their access keys by key)
// and their console sessions. The keys themselves stay: the users may
// exchange them again, as they may sign in again.
type signedOut struct {
	tokens, keys, sessions []string
}

// signOutChunk bounds the users of one statement, far below either
// backend's parameter limit.
const signOutChunk = 500

// signOut expires every API token and console session of the users of the
// organization in tx, so that the next request with any of them is
// refused on every replica (see changes).
func signOut(ctx context.Context, tx *Tx, orgID string, userIDs []string) (signedOut, error) {
	var out signedOut
	for len(userIDs) > 0 {
		n := min(len(userIDs), signOutChunk)
		if err := out.add(ctx, tx, orgID, userIDs[:n]); err != nil {
			return out, err
		}
		userIDs = userIDs[n:]
	}
	return out, nil
}

// add signs out one chunk of users.
func (s *signedOut) add(ctx context.Context, tx *Tx, orgID string, userIDs []string) error {
	in, users := inList(userIDs)
	args := append([]any{orgID}, users...)
	rows, err := tx.query(ctx, `DELETE FROM api_tokens WHERE org_id = ? AND user_id IN `+in+` RETURNING id`, args...)
	if err != nil {
		return fmt.Errorf("delete tokens: %w", err)
	}
	tokens, err := collect(rows, scanString)
	if err != nil {
		return fmt.Errorf("delete tokens: %w", err)
	}
	rows, err = tx.query(ctx, `DELETE FROM access_key_tokens WHERE key_id IN
		(SELECT id FROM access_keys WHERE org_id = ? AND owner_type = 'user' AND owner_id IN `+in+`) RETURNING key_id`, args...)
	if err != nil {
		return fmt.Errorf("delete access key tokens: %w", err)
	}
	keys, err := collect(rows, scanString)
	if err != nil {
		return fmt.Errorf("delete access key tokens: %w", err)
	}
	sessions, err := deleteSessionsWhere(ctx, tx, `org_id = ? AND user_id IN `+in, args...)
	if err != nil {
		return err
	}
	s.tokens = append(s.tokens, tokens...)
	s.keys = unique(append(s.keys, keys...))
	s.sessions = append(s.sessions, sessions...)
	return nil
}

// changes are the change-log rows by which the token cache of every
// replica evicts what was ended: each token, each key whose tokens went
// (the cache knows a key's tokens by their key) and each session.
func (s signedOut) changes() []changedEntity {
	also := make([]changedEntity, 0, len(s.tokens)+len(s.keys)+len(s.sessions))
	for _, t := range s.tokens {
		also = append(also, changedEntity{"api_token", t, "delete"})
	}
	for _, k := range s.keys {
		also = append(also, changedEntity{"access_key", k, "update"})
	}
	return append(also, sessionDeletions(s.sessions)...)
}
