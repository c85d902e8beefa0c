module github.com/medisync/medisync/e2e

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/medisync/medisync/shared v0.0.0
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/medisync/medisync/shared => ../shared
