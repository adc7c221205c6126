package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/castellan-iam/castellan"
)

// An access key's secret is kept twice: its SHA-256 (secret_hash), which
// token exchange checks, and sealed under the operator's key-encryption
// key (secret_sealed, secret_kek_id), which signature verification opens.
// The key's ID is the additional data of its seal, so that a sealed
// secret copied onto another key's row does not open there.

// sealedSecret is a key's secret as access_keys keeps it; both NULL for
// a key that cannot sign.
type sealedSecret struct {
	sealed []byte
	kekID  sql.NullString
}

// decoyAAD binds the decoy; no key ID has its shape.
const decoyAAD = "castellan-decoy-secret"

// decoySecret is what a signature is checked against when no sealer is
// set: no key can sign then, but the check costs what it would.
var decoySecret = []byte("castellan-no-sealed-secret")

// setSealer sets the sealer and seals the decoy with it.
func (db *DB) setSealer(s castellan.SecretSealer) error {
	db.sealer = s
	if s == nil {
		return nil
	}
	secret, _ := newSecret()
	kekID, sealed, err := s.Seal([]byte(secret), []byte(decoyAAD))
	if err != nil {
		return fmt.Errorf("open store: seal with the key-encryption key: %w", err)
	}
	db.decoy = sealedSecret{sealed: sealed, kekID: sql.NullString{String: kekID, Valid: true}}
	return nil
}

// sealSecret returns secret_sealed and secret_kek_id for a new key's
// secret: NULLs without a sealer.
func (db *DB) sealSecret(keyID, secret string) (sealed, kekID any, err error) {
	if db.sealer == nil {
		return nil, nil, nil
	}
	id, b, err := db.sealer.Seal([]byte(secret), []byte(keyID))
	if err != nil {
		return nil, nil, fmt.Errorf("seal access key secret: %w", err)
	}
	return b, id, nil
}

// openSecret opens the sealed secret of the key keyID; ok is false when
// it has none or it does not open. A key without one opens the decoy
// instead, so that it answers as slowly as a key that can sign.
func (db *DB) openSecret(keyID string, s sealedSecret) (secret []byte, ok bool) {
	if db.sealer == nil {
		return decoySecret, false
	}
	aad := keyID
	if s.sealed == nil || !s.kekID.Valid {
		s, aad = db.decoy, decoyAAD
	}
	secret, err := db.sealer.Open(s.kekID.String, s.sealed, []byte(aad))
	if err != nil {
		return decoySecret, false
	}
	return secret, aad == keyID
}

// KeyUseGranularity is how often a signing key's lastUsedAt is written:
// at most once per this long, so that a busy signing client does not
// write on every request. It matches how far behind the lastUsedAt of
// keys used through tokens may be.
const KeyUseGranularity = 30 * time.Second

// VerifyAccessKeySignature implements castellan.AccessKeyService. It
// runs on every signed request, so it reads, and writes only the key's
// lastUsedAt (NoteKeysUsed, outside the change log) when that is
// KeyUseGranularity old: no token, no change. Every refusal does the
// same work (read, open, HMAC) and answers the same, like
// ExchangeAccessKey's.
func (s *AccessKeyService) VerifyAccessKeySignature(ctx context.Context, keyID string, message []byte, signature string) (castellan.Principal, error) {
	if !castellan.ValidAccessKeyID(keyID) {
		return castellan.Principal{}, errUnauthenticated
	}
	var (
		h        keyHolder
		sealed   sealedSecret
		lastUsed sql.NullTime
	)
	err := h.scan(s.db.queryRow(ctx, keyHolderColumns+`, k.secret_sealed, k.secret_kek_id, k.last_used_at`+keyHolderFrom+` WHERE k.id = ?`, keyID),
		&sealed.sealed, &sealed.kekID, &lastUsed)
	found := err == nil
	if err != nil && !isNoRows(err) {
		return castellan.Principal{}, err
	}
	secret, opened := s.db.openSecret(keyID, sealed)
	mac := hmac.New(sha256.New, secret)
	mac.Write(message)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	match := hmac.Equal([]byte(want), []byte(signature))
	if !found || !opened || !match || !h.valid(s.db) {
		return castellan.Principal{}, errUnauthenticated
	}
	// Only a caller who knows the secret learns that the source is the
	// reason.
	if err := h.checkSource(ctx); err != nil {
		return castellan.Principal{}, err
	}
	if now := s.db.now(); !lastUsed.Valid || now.Sub(lastUsed.Time) >= KeyUseGranularity {
		if err := s.NoteKeysUsed(ctx, map[string]time.Time{keyID: now}); err != nil {
			return castellan.Principal{}, err
		}
	}
	return h.principal(), nil
}

// rotateBatch is how many sealed secrets one transaction of
// RotateSealedSecrets seals again.
const rotateBatch = 500

// sealedKey is a row RotateSealedSecrets seals again.
type sealedKey struct {
	id, orgID, kekID string
	sealed           []byte
}

func scanSealedKey(row scanner) (sealedKey, error) {
	var k sealedKey
	err := row.Scan(&k.id, &k.orgID, &k.sealed, &k.kekID)
	return k, err
}

// sealedTable is a table whose rows keep a sealed secret, bound to the
// row's ID.
type sealedTable struct {
	table, entity, summaryKey string
}

// sealedTables are the tables RotateSealedSecrets goes through.
var sealedTables = []sealedTable{
	{"access_keys", "access_key", "accessKeys"},
	{"federations", "federation", "federations"},
}

// RotateSealedSecrets seals every sealed secret (access keys' and
// federations' client secrets) that is not under the sealer's current
// key again under it, rotateBatch rows a transaction, each with an audit
// event (by the system) per organization it touched, and returns how
// many it sealed again. Run it after putting a new key first in the key
// file, and remove the old keys only after it succeeded: a secret whose
// key is gone from the file can no longer be opened, and it stops there
// with an error naming the key. It is idempotent: a second run finds
// nothing to do.
func (db *DB) RotateSealedSecrets(ctx context.Context) (int, error) {
	if db.sealer == nil {
		return 0, errors.New("rotate sealed secrets: no key-encryption key (Options.Sealer)")
	}
	current := db.sealer.CurrentKeyID()
	total := 0
	for _, st := range sealedTables {
		for {
			n := 0
			err := db.update(ctx, func(tx *Tx) error {
				tx.actor = castellan.Principal{Type: castellan.PrincipalSystem, ID: "castellan"}
				rows, err := tx.query(ctx, `SELECT id, org_id, secret_sealed, secret_kek_id FROM `+st.table+`
					WHERE secret_sealed IS NOT NULL AND secret_kek_id <> ? ORDER BY org_id, id LIMIT ?`, current, rotateBatch)
				if err != nil {
					return fmt.Errorf("rotate sealed secrets: %w", err)
				}
				keys, err := collect(rows, scanSealedKey)
				if err != nil {
					return fmt.Errorf("rotate sealed secrets: %w", err)
				}
				n = len(keys)
				return resealKeys(ctx, tx, st, keys, current)
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < rotateBatch {
				break
			}
		}
	}
	return total, nil
}

// resealKeys seals the secrets of rows of st (ordered by organization)
// again and records, per organization, an audit event and a change-log
// row per row.
func resealKeys(ctx context.Context, tx *Tx, st sealedTable, keys []sealedKey, current string) error {
	var ids []string
	for i, k := range keys {
		secret, err := tx.db.sealer.Open(k.kekID, k.sealed, []byte(k.id))
		if err != nil {
			return fmt.Errorf("rotate the sealed secret of %s %s (key-encryption key %s): %w", st.entity, k.id, k.kekID, err)
		}
		kekID, sealed, err := tx.db.sealer.Seal(secret, []byte(k.id))
		clear(secret)
		if err != nil {
			return fmt.Errorf("rotate the sealed secret of %s %s: %w", st.entity, k.id, err)
		}
		if _, err := tx.exec(ctx, `UPDATE `+st.table+` SET secret_sealed = ?, secret_kek_id = ? WHERE org_id = ? AND id = ?`,
			sealed, kekID, k.orgID, k.id); err != nil {
			return fmt.Errorf("rotate the sealed secret of %s %s: %w", st.entity, k.id, err)
		}
		ids = append(ids, k.id)
		if i+1 < len(keys) && keys[i+1].orgID == k.orgID {
			continue
		}
		updates := make([]changedEntity, len(ids))
		for j, id := range ids {
			updates[j] = changedEntity{st.entity, id, "update"}
		}
		if _, err := tx.record(ctx, change{
			orgID: k.orgID, action: castellan.ActionRotateSecretKey,
			entityType: "organization", entityID: k.orgID,
			summary: map[string]any{"keyEncryptionKey": current, st.summaryKey: ids},
			also:    updates,
		}); err != nil {
			return err
		}
		ids = nil
	}
	return nil
}
