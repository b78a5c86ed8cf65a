package server

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the static files served at /: the softphone page and what it
// loads. Only static files belong in server/web/.
//
//go:embed web
var web embed.FS

// staticFiles serves server/web/ at /.
func staticFiles() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the directory is embedded: it exists
	}
	return http.FileServerFS(sub)
}
