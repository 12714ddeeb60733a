-- An organization API key can be paused: it stops authenticating (401
-- API_KEY_PAUSED) until unpaused, without being deactivated.
ALTER TABLE api_keys ADD COLUMN is_paused BOOLEAN NOT NULL DEFAULT FALSE;
