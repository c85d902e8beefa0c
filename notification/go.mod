module github.com/medisync/medisync/notification

go 1.26.0

replace github.com/medisync/medisync/shared => ../shared

require (
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/emersion/go-smtp v0.26.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/wneessen/go-mail v0.7.2 // indirect
	golang.org/x/text v0.29.0 // indirect
)
