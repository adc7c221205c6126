package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// killOnAnswer is a TCP proxy to child for one connection: it passes the
// client's request on and, at the first byte of the server's answer,
// kills the server with SIGKILL and drops the connection. The client is
// left as after a crash mid-request whose write had committed.
func killOnAnswer(t *testing.T, child *crashChild) string {
	t.Helper()
	target, err := url.Parse(child.URL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", target.Host)
		if err != nil {
			return
		}
		defer server.Close()
		go io.Copy(server, client)
		var first [1]byte
		server.Read(first[:])
		child.kill()
	}()
	return "http://" + ln.Addr().String()
}

// postBatch sends users:batchCreate with an Idempotency-Key.
func postBatch(client *http.Client, baseURL, orgID, token, key string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/v1/organizations/"+orgID+"/users:batchCreate", strings.NewReader(string(body)))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

// TestCrashIdempotentRetry kills the server while a batch of users it
// has committed is on its way back, restarts it, and retries the batch
// with the same Idempotency-Key: the retry gets the first answer, and
// each user exists once.
func TestCrashIdempotentRetry(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dbURL := b.URL(t)
			boot := decodeOneObject(t, mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", dbURL),
				"organizationId", "ownerUserId", "token", "passwordLink")
			orgID, token := boot["organizationId"], boot["token"]
			const users = 50
			var batch struct {
				Users []map[string]string `json:"users"`
			}
			for i := range users {
				login := fmt.Sprintf("crash-%02d", i)
				batch.Users = append(batch.Users, map[string]string{"loginId": login, "email": login + "@acme.example", "name": "User " + login})
			}
			body, err := json.Marshal(batch)
			if err != nil {
				t.Fatal(err)
			}

			child := startCrashChild(t, dbURL)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			if resp, raw, err := postBatch(client, killOnAnswer(t, child), orgID, token, "batch-1", body); err == nil {
				t.Fatalf("the server answered %d %s before it was killed", resp.StatusCode, raw)
			}

			child = startCrashChild(t, dbURL)
			resp, raw, err := postBatch(client, child.URL, orgID, token, "batch-1", body)
			if err != nil {
				t.Fatal(err)
			}
			var answer struct {
				Users []struct{ User castellan.User }
			}
			if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry: got %d %v %s, want the first answer, 201", resp.StatusCode, resp.Header, raw)
			}
			if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Users) != users {
				t.Fatalf("retry: got %s (%v), want %d users", raw, err, users)
			}

			db := sqltest.MustOpen(t, dbURL, nil)
			stored, _, err := db.Users().FindUsers(context.Background(), orgID, castellan.UserFilter{PageSize: castellan.MaxPageSize})
			if err != nil {
				t.Fatal(err)
			}
			byLogin := map[string]int{}
			for _, u := range stored {
				byLogin[u.LoginID]++
			}
			for i, u := range answer.Users {
				if login := fmt.Sprintf("crash-%02d", i); u.User.LoginID != login || byLogin[login] != 1 {
					t.Errorf("user %d: answered %s, stored %d times; want %s once", i, u.User.LoginID, byLogin[login], login)
				}
			}
			if len(stored) != users+1 { // and the owner
				t.Errorf("got %d users, want %d", len(stored), users+1)
			}
		})
	}
}
