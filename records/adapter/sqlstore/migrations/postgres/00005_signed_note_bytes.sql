-- +goose Up
-- Nothing to change here: this database's signed-note trigger already
-- compares the note exactly, trailing blanks included. MySQL's 00005 makes
-- its trigger compare bytes; the version is kept on every dialect so that
-- one version names one schema everywhere (medisync-dbcopy compares them).
SELECT 1;

-- +goose Down
SELECT 1;
