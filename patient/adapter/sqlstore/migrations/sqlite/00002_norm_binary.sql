-- +goose Up
-- Nothing to change here: the lower-cased copies already compare code
-- point by code point on this database (NOCASE folds ASCII case only,
-- which the service has folded already). MySQL's 00002 gives them that
-- comparison; the version is kept on every dialect so that one version
-- names one schema everywhere (medisync-dbcopy compares them).
SELECT 1;

-- +goose Down
SELECT 1;
