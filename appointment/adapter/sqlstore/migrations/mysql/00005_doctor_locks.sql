-- +goose Up
-- Nothing to make here: this database's 00001 made doctor_locks already;
-- PostgreSQL's 00005 makes its own. The version is kept on every dialect so
-- that one version names one schema everywhere (medisync-dbcopy compares
-- them).
SELECT 1;

-- +goose Down
SELECT 1;
