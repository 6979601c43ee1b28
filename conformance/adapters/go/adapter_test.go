package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func runAdapter(t *testing.T, stdin string, args ...string) (int, []map[string]any) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", line, err)
		}
		events = append(events, ev)
	}
	return code, events
}

// Unsupported transports and options exit 127 before anything is written.
func TestUnsupportedExit127(t *testing.T) {
	for _, args := range [][]string{
		{"--role", "server", "--transport", "mqtt"},
		{"--role", "client", "--transport", "grpc"},
		{"--role", "server", "--transport", "tcp", "--frobnicate", "1"},
	} {
		if code, ev := runAdapter(t, "", args...); code != 127 || len(ev) != 0 {
			t.Errorf("%v: exit %d with %d events, want 127 and none", args, code, len(ev))
		}
	}
	if code, _ := runAdapter(t, "", "--role", "neither"); code != 2 {
		t.Errorf("bad role: exit %d, want 2", code)
	}
}

// ready comes first with the protocol version; id, an unknown command, a
// bad line, bad data and a put to an unknown peer are answered; end of stdin ends the adapter with 0.
func TestReadyAndCommands(t *testing.T) {
	in := `{"cmd":"id"}` + "\n" + `{"cmd":"dance","tag":4}` + "\n" + "not json\n" +
		`{"cmd":"put","tag":5,"data":"%%%"}` + "\n" +
		`{"cmd":"put","tag":7,"data":"AA==","peers":["00112233445566778899aabbccddeeff"]}` + "\n"
	code, ev := runAdapter(t, in, "--role", "server", "--transport", "tcp", "--host", "127.0.0.1", "--port", "0")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if len(ev) < 5 || ev[0]["event"] != "ready" || ev[0]["adapter_protocol"] != AdapterProtocol || ev[0]["port"].(float64) <= 0 {
		t.Fatalf("events %v: want ready with a port and adapter_protocol first", ev)
	}
	if ev[1]["event"] != "id" || ev[1]["id"] != ev[0]["id"] {
		t.Errorf("id answer %v, ready id %v", ev[1], ev[0]["id"])
	}
	if ev[2]["event"] != "error" || ev[2]["cmd"] != "dance" || ev[2]["tag"].(float64) != 4 {
		t.Errorf("unknown command answered %v", ev[2])
	}
	if ev[3]["event"] != "error" {
		t.Errorf("bad line answered %v", ev[3])
	}
	if ev[4]["event"] != "put-done" || ev[4]["ok"] != false {
		t.Errorf("bad base64 answered %v", ev[4])
	}
	if len(ev) != 6 || ev[5]["event"] != "put-done" || ev[5]["tag"].(float64) != 7 || ev[5]["ok"] != false {
		t.Errorf("put to an unknown peer: %v, want put-done 7 not ok", ev[5:])
	}
}
