-- +goose Up
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  record_id VARCHAR(36) NOT NULL REFERENCES records (id),
  action VARCHAR(16) NOT NULL,
  at TIMESTAMPTZ(6) NOT NULL
);

-- The audit trail is append-only, as the services' are.
-- +goose StatementBegin
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
-- +goose Down
DROP TABLE audit;
DROP FUNCTION audit_append_only();
