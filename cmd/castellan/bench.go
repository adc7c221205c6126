package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/bench"
	"github.com/castellan-iam/castellan/index"
	"github.com/castellan-iam/castellan/server"
	"github.com/castellan-iam/castellan/sqlstore"
)

// benchMaxAccounts lifts the per-organization account limit for the
// generated organization.
const benchMaxAccounts = 1_000_000

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags("bench", stderr, getenv)
	openStore := f.store()
	profile := f.String("profile", "large", "organization shape: large (1M users, 100k groups, 10M grants), peer or small")
	scale := f.Float64("scale", 1, "multiply the profile's counts by this, in (0, 1]")
	counts := benchCountFlags(f.FlagSet)
	duration := f.Duration("duration", bench.DefaultDuration, "length of each in-process and HTTP measurement")
	concurrency := f.String("concurrency", "1,16,64", "connection counts of the HTTP load driver, comma-separated")
	loader := f.String("loader", "import", "how the organization is loaded: import (POST …:import) or direct (the store's create calls, slow)")
	replicas := f.Int("replicas", 0, "with a PostgreSQL --database: 2 starts two castellan serve processes and measures write→visible across them")
	asJSON := f.Bool("json", false, "print the result as one JSON object instead of a table")
	cpuProfile := f.String("cpuprofile", "", "write the CPU profile of the in-process Authorize measurement to this file")
	timeouts := f.httpTimeouts()
	if err := f.parse(args); err != nil {
		return err
	}
	cfg, err := bench.Profile(*profile, *scale)
	if err != nil {
		return err
	}
	cfg.Duration = *duration
	if cfg.Concurrency, err = parseConcurrency(*concurrency); err != nil {
		return err
	}
	f.Visit(func(fl *flag.Flag) {
		if set, ok := counts[fl.Name]; ok {
			set(&cfg)
		}
	})
	if *replicas != 0 && *replicas != 2 {
		return fmt.Errorf("--replicas %d: want 0 or 2", *replicas)
	}
	httpTimeouts, err := timeouts()
	if err != nil {
		return err
	}
	// Requests are logged as castellan serve logs them, into nothing: the
	// cost is measured, the terminal spared.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := openStore(ctx, sqlstore.Options{MaxAccounts: benchMaxAccounts})
	if err != nil {
		return err
	}
	defer db.Close()
	services := db.Services()
	feed, _, stopFeed, err := startChangeFeed(ctx, db, "1s", log)
	if err != nil {
		return err
	}
	defer stopFeed()
	_, stopCache, err := startTokenCache(ctx, feed, &services, log)
	if err != nil {
		return err
	}
	defer stopCache()

	env := bench.Env{Services: services, Database: db.Dialect(), Progress: stderr,
		Index: func(ctx context.Context) (castellan.Authorizer, func(), error) {
			a := index.New(db, services, castellan.SystemClock)
			a.ReferUnknown = true // as castellan serve's
			return a, func() { feed.Unsubscribe(a) }, feed.Subscribe(ctx, a)
		},
		Serve: func(ctx context.Context, a castellan.Authorizer) (string, func(), error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return "", nil, err
			}
			srv := newHTTPServer(server.Config{Services: services, Logger: log, Version: version(), Authorizer: a, Revisions: feed}, httpTimeouts)
			go srv.Serve(ln)
			return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
		},
	}
	switch *loader {
	case "import":
	case "direct":
		env.Loader = bench.DirectLoader{Services: services}
	default:
		return fmt.Errorf("--loader %q: want import or direct", *loader)
	}
	if *replicas == 2 {
		if db.Dialect() != "postgres" {
			return errors.New("--replicas needs a PostgreSQL --database: replicas share one store")
		}
		database := f.Lookup("database").Value.String()
		env.Replicas = func(ctx context.Context) ([]string, func(), error) { return startReplicas(ctx, database, stderr) }
	}
	if *cpuProfile != "" {
		out, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer out.Close()
		env.CPUProfile = out
	}
	res, err := bench.Run(ctx, env, cfg)
	if res != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
		} else if err := res.WriteTable(stdout); err != nil {
			return err
		}
	}
	return err
}

// benchCountFlags defines the flags that change a profile's counts and
// returns, by flag name, what each sets.
func benchCountFlags(fs *flag.FlagSet) map[string]func(*bench.Config) {
	set := map[string]func(*bench.Config){}
	count := func(name, help string, field func(*bench.Config) *int) {
		v := fs.Int(name, 0, help+" (default: the profile's)")
		set[name] = func(c *bench.Config) { *field(c) = *v }
	}
	count("users", "users", func(c *bench.Config) *int { return &c.Users })
	count("no-access", "users holding no grant", func(c *bench.Config) *int { return &c.NoAccess })
	count("groups", "groups", func(c *bench.Config) *int { return &c.Groups })
	count("members", "members per group", func(c *bench.Config) *int { return &c.MembersPerGroup })
	count("ous", "organizational units", func(c *bench.Config) *int { return &c.OUs })
	count("depth", "OU levels below the root, 1 to 5", func(c *bench.Config) *int { return &c.Depth })
	count("accounts", "accounts", func(c *bench.Config) *int { return &c.Accounts })
	count("projects", "projects", func(c *bench.Config) *int { return &c.Projects })
	count("grants", "role grants on nodes (60% user–project, 36% group–project, 4% group–OU, ≤20 on the root)", func(c *bench.Config) *int { return &c.Grants })
	count("resource-grants", "grants on single buckets", func(c *bench.Config) *int { return &c.ResourceGrants })
	count("control-policies", "control policies, each forbidding one action on an account (or OU)", func(c *bench.Config) *int { return &c.ControlPolicies })
	count("checks", "distinct checks asked", func(c *bench.Config) *int { return &c.Checks })
	count("requests", "most requests per HTTP measurement", func(c *bench.Config) *int { return &c.Requests })
	count("write-samples", "grants written for write→visible", func(c *bench.Config) *int { return &c.WriteSamples })
	count("list-pages", "user-list pages of 100 read", func(c *bench.Config) *int { return &c.ListPages })
	seed := fs.Int64("seed", 1, "seed of the generator")
	set["seed"] = func(c *bench.Config) { c.Seed = *seed }
	return set
}

// parseConcurrency reads --concurrency.
func parseConcurrency(s string) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--concurrency %q: want positive numbers, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// startReplicas starts two castellan serve processes with the index on
// database and returns their URLs once both listen.
func startReplicas(ctx context.Context, database string, stderr io.Writer) ([]string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	var (
		urls  []string
		procs []*exec.Cmd
	)
	stop := func() {
		for _, p := range procs {
			p.Process.Signal(os.Interrupt)
			p.Wait()
		}
	}
	for range 2 {
		cmd := exec.CommandContext(ctx, self, "serve", "--listen", "127.0.0.1:0", "--authorizer", "index",
			"--log-level", "warn", "--max-accounts-per-organization", strconv.Itoa(benchMaxAccounts))
		// In the environment, not on the command line, which every local
		// user may read: the URL may hold a password.
		cmd.Env = append(os.Environ(), "CASTELLAN_DATABASE="+database)
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			stop()
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			stop()
			return nil, nil, err
		}
		procs = append(procs, cmd)
		url, err := listeningURL(out, 2*time.Minute)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("replica: %w", err)
		}
		urls = append(urls, url)
	}
	return urls, stop, nil
}

// listeningURL reads a castellan serve's standard output until it
// announces its address.
func listeningURL(out io.Reader, limit time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "castellan listening on "); ok {
				found <- url
				io.Copy(io.Discard, out)
				return
			}
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			return "", errors.New("exited before listening")
		}
		return url, nil
	case <-time.After(limit):
		return "", fmt.Errorf("not listening after %s", limit)
	}
}
