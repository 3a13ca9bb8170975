package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/credstore"
	"github.com/tlsapp/tlsapp/trust"
)

const credHelp = `Manages a credential store directory: credentials live under numeric
security tags, like a cellular modem's sec_tag, one of each kind per tag
(ca: CA certificates, cert: client certificate chain, key: its private key).

  tlsapp cred import --store DIR --tag N --kind ca|cert|key FILE
  tlsapp cred import --store DIR --tag N --kind cert CERTFILE KEYFILE
  tlsapp cred list   --store DIR [--tag N]
  tlsapp cred show   --store DIR --tag N [--kind ca|cert|key]
  tlsapp cred rm     --store DIR --tag N --kind ca|cert|key

Import checks the file before writing anything (PEM or DER certificates,
PKCS#8, SEC1 or PKCS#1 keys; a key must match its tag's certificate), and on
any error leaves the store as it was. A certificate with its key replaces
both at once. Certificates that have expired or are not yet valid by this
machine's clock are refused unless --allow-expired is given. Only import
creates the store directory. List and show print digests and certificate
details, never key material.

A tag is a number from 1 to 4294967295 (0 is reserved: it names anchors that
are not from a store). Files to import must be regular
files of at most 1 MiB (FIFOs and devices such as /dev/zero are refused).
A store folder that group or others can write is refused: fix it with
chmod go-w. SIGINT or SIGTERM ends any subcommand at once; a credential
being written is then left as it was or replaced whole.`

// runCred runs a cred subcommand. It returns as soon as ctx is done (on
// SIGINT or SIGTERM), even if the subcommand is blocked in a system call:
// the process then exits, and every store write is atomic.
func runCred(ctx context.Context, e *env, args []string) error {
	done := make(chan error, 1)
	go func() { done <- credCommand(ctx, e, args) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
}

// tagFlag is a --tag value: a uint32, so that 99999999999 is a usage
// error rather than a tag silently cut to 32 bits.
type tagFlag credstore.Tag

func (t *tagFlag) String() string { return strconv.FormatUint(uint64(*t), 10) }

func (t *tagFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not a tag: want a number from 1 to %d", s, uint32(math.MaxUint32))
	}
	*t = tagFlag(n)
	return nil
}

func credCommand(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "cred", "import|list|show|rm [flags] [FILE]", credHelp)
	store := fs.String("store", "", "the store `DIR` (required)")
	var tag tagFlag
	fs.Var(&tag, "tag", "the security tag `N` (1 to 4294967295); with list, list only that tag")
	kindName := fs.String("kind", "", "the credential `KIND`: ca, cert or key")
	allowExpired := fs.Bool("allow-expired", false, "import certificates that have expired or are not yet valid")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("missing subcommand: import, list, show or rm")
	}
	if *store == "" {
		return usagef("--store is required")
	}
	sub, pos := pos[0], pos[1:]
	tagSet, kindSet := false, false
	fs.Visit(func(f *flag.Flag) {
		tagSet = tagSet || f.Name == "tag"
		kindSet = kindSet || f.Name == "kind"
	})
	var kind credstore.Kind
	if kindSet {
		if kind, err = credstore.ParseKind(*kindName); err != nil {
			return usagef("%v", err)
		}
	}
	need := func(tag, kind bool) error {
		if tag && !tagSet {
			return usagef("%s needs --tag", sub)
		}
		if kind && !kindSet {
			return usagef("%s needs --kind", sub)
		}
		return nil
	}
	if sub != "import" {
		// Reading or removing never creates a store: a mistyped --store
		// is an error, not a new empty store.
		if fi, err := os.Stat(*store); err != nil {
			return fmt.Errorf("credential store: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("credential store: %s is not a directory", *store)
		}
	}
	s, err := credstore.OpenDir(*store)
	if err != nil {
		return err
	}
	t := credstore.Tag(tag)
	switch sub {
	case "import":
		if err := need(true, true); err != nil {
			return err
		}
		if t == trust.NoTag {
			return usagef("--tag 0 is reserved: it names trust anchors that are not from a store")
		}
		if len(pos) != 1 && (len(pos) != 2 || kind != credstore.ClientCert) {
			return usagef("import needs one FILE (or, with --kind cert, CERTFILE KEYFILE)")
		}
		var files [][]byte
		for _, name := range pos {
			data, err := credstore.ReadFile(name)
			if err != nil {
				return err
			}
			files = append(files, data)
		}
		if kind != credstore.PrivateKey && !*allowExpired {
			err := credstore.CheckValidity(files[0], time.Now())
			if errors.As(err, new(*credstore.ValidityError)) {
				return fmt.Errorf("%s: refused, nothing imported: %w (use --allow-expired to import it anyway)", pos[0], err)
			}
		}
		if len(pos) == 2 {
			err = credstore.ImportKeyPair(ctx, s, t, pos[0], files[0], pos[1], files[1])
		} else {
			err = credstore.Import(ctx, s, t, kind, pos[0], files[0])
		}
		if errors.Is(err, credstore.ErrKeyMismatch) && len(pos) == 1 {
			return fmt.Errorf("%w\n(to replace both, import the certificate and its key together: tlsapp cred import --store %s --tag %d --kind cert CERTFILE KEYFILE)", err, *store, t)
		}
		if err != nil {
			return err
		}
		if e.json {
			out := map[string]any{"imported": pos[0], "tag": t, "kind": kind.String()}
			if len(pos) == 2 {
				out["key_imported"] = pos[1]
			}
			return e.emitJSON(out)
		}
		fmt.Fprintf(e.stdout, "imported %s as tag %d %v\n", strings.Join(pos, " and "), t, kind)
		return nil
	case "list", "show":
		if sub == "show" {
			if err := need(true, false); err != nil {
				return err
			}
		}
		infos, err := s.List(ctx)
		if err != nil {
			return err
		}
		var rows []credRow
		for _, in := range infos {
			if (tagSet && in.Tag != t) || (sub == "show" && kindSet && in.Kind != kind) {
				continue
			}
			row := credRow{Tag: uint32(in.Tag), Kind: in.Kind.String(), Size: in.Size, SHA256: hex.EncodeToString(in.SHA256[:])}
			if sub == "show" && in.Kind != credstore.PrivateKey {
				if b, err := s.Get(ctx, in.Ref); err == nil {
					row.Certificates = describeCerts(b)
				}
			}
			rows = append(rows, row)
		}
		if sub == "show" && len(rows) == 0 {
			what := fmt.Sprintf("tag %d", t)
			if kindSet {
				what = credstore.Ref{Tag: t, Kind: kind}.String()
			}
			return fmt.Errorf("%w: nothing stored as %s in %s", credstore.ErrNotFound, what, *store)
		}
		if e.json {
			return e.emitJSON(rows)
		}
		for _, r := range rows {
			fmt.Fprintf(e.stdout, "tag %-6d %-7s %6d B  sha256:%s\n", r.Tag, r.Kind, r.Size, r.SHA256)
			for _, c := range r.Certificates {
				fmt.Fprintf(e.stdout, "           %s\n", c)
			}
		}
		return nil
	case "rm":
		if err := need(true, true); err != nil {
			return err
		}
		if err := s.Delete(ctx, credstore.Ref{Tag: t, Kind: kind}); err != nil {
			return fmt.Errorf("%s: %w", *store, err)
		}
		if !e.json {
			fmt.Fprintf(e.stdout, "removed tag %d %v\n", t, kind)
		}
		return nil
	}
	return usagef("unknown subcommand %q (want import, list, show or rm)", sub)
}

// credRow is one line of cred list/show.
type credRow struct {
	Tag          uint32   `json:"tag"`
	Kind         string   `json:"kind"`
	Size         int      `json:"size"`
	SHA256       string   `json:"sha256"`
	Certificates []string `json:"certificates,omitempty"`
}

// describeCerts summarises each certificate in a PEM bundle.
func describeCerts(b []byte) []string {
	var out []string
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		state := ""
		switch now := time.Now(); {
		case now.After(c.NotAfter):
			state = ", EXPIRED"
		case now.Before(c.NotBefore):
			state = fmt.Sprintf(", NOT VALID before %s", c.NotBefore.UTC().Format("2006-01-02 15:04 MST"))
		}
		out = append(out, fmt.Sprintf("%s (issuer %s, until %s%s)", c.Subject, c.Issuer, c.NotAfter.Format("2006-01-02"), state))
	}
}

// storeTags opens the store and resolves --tags (all tags with CA
// certificates when empty).
func storeTags(ctx context.Context, dir, tagList string) (credstore.Store, []credstore.Tag, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("credential store: %w", err)
	}
	s, err := credstore.OpenDir(dir)
	if err != nil {
		return nil, nil, err
	}
	nums, err := parseTags(tagList)
	if err != nil {
		return nil, nil, err
	}
	var tags []credstore.Tag
	for _, n := range nums {
		tags = append(tags, credstore.Tag(n))
	}
	if len(tags) > 0 {
		return s, tags, nil
	}
	infos, err := s.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range infos {
		if in.Kind == credstore.CACert {
			tags = append(tags, in.Tag)
		}
	}
	return s, tags, nil
}

// storeVerifier verifies against every CA of the selected tags at once.
func storeVerifier(ctx context.Context, dir, tagList string) (trust.Verifier, error) {
	s, tags, err := storeTags(ctx, dir, tagList)
	if err != nil {
		return nil, err
	}
	return credstore.NewVerifier(ctx, s, tags...)
}

// storeAnchors lists the CA certificates of the selected tags one by one,
// for probe to say which verify the server and which do not.
func storeAnchors(ctx context.Context, dir, tagList string) ([]namedAnchor, error) {
	s, tags, err := storeTags(ctx, dir, tagList)
	if err != nil {
		return nil, err
	}
	var out []namedAnchor
	for _, t := range tags {
		b, err := s.Get(ctx, credstore.Ref{Tag: t, Kind: credstore.CACert})
		if errors.Is(err, credstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for rest := b; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if c, err := x509.ParseCertificate(block.Bytes); err == nil {
				out = append(out, namedAnchor{Source: fmt.Sprintf("store tag %d", t), Tag: t, Cert: c})
			}
		}
	}
	return out, nil
}
