package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
)

// ImportLoader loads through POST /v1/organizations/{org}:import
// (docs/import.md): the items are encoded as NDJSON while the request
// body is sent, so the dataset is never held in memory, and the IDs of
// the references are read from the progress lines of the answer.
type ImportLoader struct {
	URL, Token string
	// BatchSize is the items per transaction; 0 is the server's default.
	BatchSize int
	// Progress, when set, receives the server's progress now and then.
	Progress io.Writer
}

// importLine is a progress or result line of the answer.
type importLine struct {
	Type           string            `json:"type"`
	Items          int               `json:"items"`
	Applied        int               `json:"applied"`
	Failed         int               `json:"failed"`
	ItemsPerSecond float64           `json:"itemsPerSecond"`
	IDs            map[string]string `json:"ids"`
	Errors         []json.RawMessage `json:"errors"`
	Error          *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Load implements Loader.
func (l *ImportLoader) Load(ctx context.Context, org string, items iter.Seq[Item], created func(ref, id string)) (int, error) {
	body, w := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(w, 1<<16)
		enc := json.NewEncoder(bw)
		for it := range items {
			if err := enc.Encode(it); err != nil {
				w.CloseWithError(err)
				return
			}
		}
		w.CloseWithError(bw.Flush())
	}()
	defer body.Close()
	url := l.URL + "/v1/organizations/" + org + ":import"
	if l.BatchSize > 0 {
		url += fmt.Sprintf("?batchSize=%d", l.BatchSize)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+l.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("POST :import: %d %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	shown := 0
	for sc.Scan() {
		var line importLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return 0, fmt.Errorf("import answer: %w", err)
		}
		for ref, id := range line.IDs {
			created(ref, id)
		}
		if len(line.Errors) > 0 {
			return line.Failed, fmt.Errorf("import refused items, first: %s", line.Errors[0])
		}
		if line.Type == "result" {
			if line.Error != nil {
				return line.Failed, fmt.Errorf("import: %s: %s", line.Error.Code, line.Error.Message)
			}
			return line.Failed, nil
		}
		if l.Progress != nil && line.Items >= shown+100_000 {
			shown = line.Items
			fmt.Fprintf(l.Progress, "bench: imported %d items (%.0f/s)\n", line.Items, line.ItemsPerSecond)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("import: the answer ended without a result line")
}
