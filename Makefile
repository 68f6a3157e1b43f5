# Build and install hardened from a source checkout.
#
#   make                                  cargo build --release, then generate the man pages and
#                                         shell completions from the binary (target/generated/)
#   sudo make install                     install under PREFIX (default /usr/local)
#   make install PREFIX=/usr DESTDIR=/tmp/stage   stage a tree (what a package build does)
#   sudo make uninstall                   remove what install installed (same PREFIX/DESTDIR)
#
# Installed: $(BINDIR)/hardened, one man page per command in $(MANDIR)/man8, bash, zsh and fish
# completions, and the commented default policy as $(DOCDIR)/examples/policy.toml (it equals
# the built-in defaults; copy it to /etc/hardened/policy.toml to change them). Nothing outside
# DESTDIR$(PREFIX) is written, and no container engine's config is edited: register the
# runtime with `hardened install docker|containerd|podman`.
#
# The Debian package (scripts/package.sh) uses the same generated files.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/hardened
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
# zsh's own directory for a prefix (/usr/local/share/zsh/site-functions is in zsh's default
# fpath); Debian's packages use /usr/share/zsh/vendor-completions.
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

CARGO ?= cargo
INSTALL ?= install
# The binary to install and to generate from, and where the generated files go.
BIN ?= target/release/hardened
GEN ?= target/generated

.PHONY: all build generated install uninstall

all: build generated

build:
	$(CARGO) build --release

# Only when missing: `sudo make install` after `make` must not need cargo in root's PATH.
$(BIN):
	$(CARGO) build --release

# Man pages and completions, written by the binary itself from its command-line definition.
generated: $(BIN)
	rm -rf --one-file-system $(GEN)
	mkdir -p $(GEN)/man8 $(GEN)/completions
	$(BIN) man $(GEN)/man8 > /dev/null
	$(BIN) completion bash > $(GEN)/completions/hardened
	$(BIN) completion zsh > $(GEN)/completions/_hardened
	$(BIN) completion fish > $(GEN)/completions/hardened.fish

install: generated
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/hardened
	$(INSTALL) -m 0644 $(GEN)/man8/*.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(GEN)/completions/hardened $(DESTDIR)$(BASHCOMPDIR)/hardened
	$(INSTALL) -m 0644 $(GEN)/completions/_hardened $(DESTDIR)$(ZSHCOMPDIR)/_hardened
	$(INSTALL) -m 0644 $(GEN)/completions/hardened.fish $(DESTDIR)$(FISHCOMPDIR)/hardened.fish
	$(INSTALL) -m 0644 packaging/policy.toml $(DESTDIR)$(DOCDIR)/examples/policy.toml

# The man pages by name pattern: `hardened.8` and `hardened-COMMAND.8`, as `hardened man`
# names them.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hardened
	rm -f $(DESTDIR)$(MANDIR)/man8/hardened.8 $(DESTDIR)$(MANDIR)/man8/hardened-*.8
	rm -f $(DESTDIR)$(BASHCOMPDIR)/hardened $(DESTDIR)$(ZSHCOMPDIR)/_hardened \
		$(DESTDIR)$(FISHCOMPDIR)/hardened.fish
	rm -f $(DESTDIR)$(DOCDIR)/examples/policy.toml
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2> /dev/null
