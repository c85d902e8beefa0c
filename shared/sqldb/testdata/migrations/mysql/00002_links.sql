-- +goose Up
CREATE TABLE links (
  id CHAR(36) PRIMARY KEY,
  item_id CHAR(36) NOT NULL,
  CONSTRAINT fk_links_item FOREIGN KEY (item_id) REFERENCES items(id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- +goose Down
DROP TABLE links;
