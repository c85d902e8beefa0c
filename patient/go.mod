module github.com/medisync/medisync/patient

go 1.26.0

require github.com/medisync/medisync/shared v0.0.0

require (
	github.com/go-kit/kit v0.13.0 // indirect
	github.com/go-kit/log v0.2.1 // indirect
	github.com/go-logfmt/logfmt v0.5.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/gorilla/mux v1.8.1 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
)

replace github.com/medisync/medisync/shared => ../shared
