module github.com/medisync/medisync/doctor

go 1.26.0

require github.com/medisync/medisync/shared v0.0.0

replace github.com/medisync/medisync/shared => ../shared
