-- +goose Up
CREATE TABLE links (
  id VARCHAR(36) PRIMARY KEY,
  item_id VARCHAR(36) NOT NULL,
  CONSTRAINT fk_links_item FOREIGN KEY (item_id) REFERENCES items(id) ON DELETE RESTRICT
);
-- +goose Down
DROP TABLE links;
