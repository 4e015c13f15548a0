// Command floor is the load harness's floor: a plain net/http handler that
// decodes each POSTed JSON-RPC message with encoding/json and answers it
// with a fixed result, echoing only the id. Nothing an MCP server does can
// cost less; it bounds what the machine and the load generator allow.
//
// It listens on -addr (default a random loopback port) and prints
// "listening on <host:port>" on stdout once it accepts connections.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strconv"

	"github.com/idgate/idgate/internal/loadtest/servers/serve"
)

// message is the part of a JSON-RPC request the floor reads.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ctx, stop := serve.Context()
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mcp", handle)
	if err := serve.Run(ctx, *addr, mux); err != nil {
		log.Fatal(err)
	}
}

func handle(w http.ResponseWriter, r *http.Request) {
	var m message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if len(m.ID) == 0 { // a notification
		w.WriteHeader(http.StatusAccepted)
		return
	}
	b := make([]byte, 0, 160)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, m.ID...)
	b = append(b, `,"result":{"content":[{"type":"text","text":"Echo: hello"}]}}`...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
