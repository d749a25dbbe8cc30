// Command bare is the baseline of the read-path benchmark: a plain
// net/http server with hrgate's TLS settings that answers every request
// with a fixed JSON body. hrgate's figures are reported as a ratio of its.
package main

import (
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	hrhttp "github.com/hrgate/hrgate/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9443", "listen address")
	cert := flag.String("cert", "", "TLS certificate (PEM)")
	key := flag.String("key", "", "TLS key (PEM)")
	bodyFile := flag.String("body", "", "file whose bytes every response carries")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		log.Fatal(err)
	}
	tlsCfg, _, err := hrhttp.TLSConfig(*cert, *key, "", slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              *addr,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}
