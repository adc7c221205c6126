-- Access keys sign requests for the compatibility APIs, which needs the
-- secret itself: beside its SHA-256 (which token exchange checks), a key
-- keeps its secret sealed (AES-256-GCM, the key ID bound as additional
-- data) under the operator's key-encryption key secret_kek_id. Keys
-- created before this migration, or without a key file, have neither and
-- cannot sign.
ALTER TABLE access_keys ADD COLUMN secret_sealed BYTEA;
ALTER TABLE access_keys ADD COLUMN secret_kek_id TEXT;
