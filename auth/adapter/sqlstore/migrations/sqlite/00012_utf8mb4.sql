-- +goose Up
-- Nothing to change here: this database's text is UTF-8 whatever it was
-- created with. MySQL's 00012 gives the tables that took the database's
-- default character set utf8mb4; the version is kept on every dialect so
-- that one version names one schema everywhere (medisync-dbcopy compares
-- them).
SELECT 1;

-- +goose Down
SELECT 1;
