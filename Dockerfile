# syntax=docker/dockerfile:1
# Image Enhancer: one Go binary (CPU runtime on oneDNN, video on FFmpeg's
# libraries) plus our CUDA library, which the binary loads at run time when
# USE_GPU=TRUE and a GPU is present. Three stages: the CUDA library, the Go
# binary with the fetched weights, and a slim runtime.

# Stage 1: the GPU runtime's shared library, built by nvcc.
# Ubuntu 22.04's glibc (2.35) is older than Debian 12's, so the library runs there.
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu22.04 AS cuda
WORKDIR /src
COPY gpu/csrc gpu/csrc
# The library links the CUDA runtime statically: at run time it needs only the
# driver's libcuda, which the NVIDIA container toolkit mounts.
RUN make -j"$(nproc)" -C gpu/csrc OUT=/out/lib

# Stage 2: the Go binary, the model weights and Swagger UI.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      pkg-config libdnnl-dev libavformat-dev libavcodec-dev libswscale-dev \
      libswresample-dev libavutil-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags=-s -o /out/image-enhancer . \
 && /out/image-enhancer models fetch -engines /out/engines \
 && npm install --silent --no-audit --no-fund --prefix /out/third_party swagger-ui-dist@5.35.0

# Stage 3: what runs.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates curl libdnnl2 libavformat59 libavcodec59 libswscale6 \
      libswresample4 libavutil57 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data enhancer \
 && mkdir -p /data /engines && chown enhancer /data /engines
COPY --from=cuda /out/lib /opt/image-enhancer/lib
COPY --from=build /out/image-enhancer /usr/local/bin/image-enhancer
COPY --from=build --chown=enhancer /out/engines /engines
COPY --from=build /out/third_party /opt/image-enhancer/third_party
ENV DATA_DIR=/data ENGINES_DIR=/engines API_HOST=0.0.0.0 API_PORT=8888 \
    GPU_LIBRARY=/opt/image-enhancer/lib/libiegpu.so \
    SWAGGER_UI_DIR=/opt/image-enhancer/third_party/node_modules/swagger-ui-dist \
    LD_LIBRARY_PATH=/opt/image-enhancer/lib
USER enhancer
EXPOSE 8888
ENTRYPOINT ["/usr/local/bin/image-enhancer"]
